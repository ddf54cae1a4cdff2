"""Small helpers shared by tests: edit nested YAML-like data in place."""

DELETE = object()


def set_path(d, path, value):
    """Set (or, with ``DELETE``, remove) the item at ``path`` (keys and indexes) in nested data."""
    cur = d
    for p in path[:-1]:
        cur = cur[p]
    if value is DELETE:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return d
