"""Model providers: one module per API behind one async-generator interface (`base.py`).

Nothing here imports Django: the registry (`conversations/registry.py`) builds the providers from
settings and passes everything they need in.
"""
