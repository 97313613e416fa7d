"""Screens: the chat, and the modal session list, rename and help dialogs."""
