"""The data: fetch and verify it, decode and split it, the catalog and its corrections, the writers,
load it; corruptions, a person's digit normalised, what digits look like."""
