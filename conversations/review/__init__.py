"""Review: teammates comment on turns in threads, mark replies 👍/👎, prefer a branch, and are told
when someone mentions them or answers their thread. models.py (Comment, Verdict, Preference,
Notification), services.py (every write, then one frame to the conversation's sockets and the
inbox counts to each recipient's), selectors.py (what a page shows, in a constant number of
queries), frames.py (what the sockets say), consumer.py (the person's own socket, /ws/me/: the inbox
badge), views.py and urls.py (JSON endpoints and the inbox page).

Comments belong to the conversation, never to the model: nothing here is read when a request is
built, counted in the context, or shown in "What the model saw"."""
