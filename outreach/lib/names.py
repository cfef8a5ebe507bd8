"""Short forms of official division names, so "周庄村" finds "周庄村委会"."""

# Longest suffix first: "社区居委会" must win over "居委会".
_SUFFIXES = ("社区居民委员会", "村民委员会", "社区居委会", "居民委员会", "村委会", "居委会")


def clean_name(value) -> str:
    """Strip every whitespace (clerks leave stray and full-width spaces inside names)."""
    if value is None:
        return ""
    # str.split() cuts at exactly the characters \s matches (str.isspace, full-width space included), in C.
    return "".join(str(value).split())


def short_village_name(official: str) -> str:
    """周庄村委会 → 周庄村, 西花园社区居委会 → 西花园社区, 东关居委会 → 东关社区."""
    name = clean_name(official)
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            if suffix.startswith("村"):
                return stem if stem.endswith("村") else stem + "村"
            return stem if stem.endswith("社区") else stem + "社区"
    return name
