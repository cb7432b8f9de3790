"""DRF ViewSets: parse and authorise, call one service or selector, serialise."""
