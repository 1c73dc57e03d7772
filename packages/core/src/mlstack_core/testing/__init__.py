"""Test helpers shipped with core so every package's tests can use the same real services."""
