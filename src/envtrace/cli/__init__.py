"""Command line (Typer): the composition root that wires the packages together."""
