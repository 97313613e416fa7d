"""The `paperchat` command line: one typer group over the rag/ core and the front ends."""
