"""Files attached to prompts: images and text files, stored once by their content.

A prompt's attachments are part of it, like its text: `Turn.attachments` describes them (name,
kind, type, size, an image's size in pixels, a text file's token counts) and never changes, and
`Turn.blobs` holds the stored files they name, which keeps those from being cleaned up. A file is
first uploaded (an `Upload`: one person's, not yet sent), then sent with a prompt.
"""
