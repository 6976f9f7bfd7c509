"""The command line: thin commands that parse, call the core, and render through a console."""
