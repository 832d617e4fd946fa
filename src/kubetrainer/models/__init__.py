"""Model catalog, memory estimation, selection, hub download and the bundled defaults."""
