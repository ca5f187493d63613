"""Full-text search over every turn of every branch a person may read, and conversation titles:
index.py (the database's own index and its triggers), query.py (what was typed, as terms),
selectors.py (the search, with the permission check inside its query), snippets.py (what a result
shows), views.py and urls.py (the page)."""
