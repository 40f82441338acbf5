"""Chapter 3's machinery, shared by both trees (students change nothing here); MAINTAINING.md lists its files."""
