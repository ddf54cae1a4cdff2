"""The rackscan CLI and the end-to-end runs; nothing imports this package."""
