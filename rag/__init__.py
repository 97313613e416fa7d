"""paperchat core: papers, chunks, embeddings, the Chroma store, retrieval and answers.

Nothing here imports a web or TUI framework; heavy libraries are imported inside the
functions that need them so that front ends start fast.
"""
