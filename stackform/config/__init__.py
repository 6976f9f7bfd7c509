"""The stack file: finding it, reading it with locations, validating it, and resolving it for
one environment into desired resources."""
