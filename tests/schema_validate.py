#!/usr/bin/python3
"""Validate ecntrace JSON documents against doc/ecntrace-schema.json.

usage: schema_validate.py [--strict] [--each] SCHEMA FILE...

Checks the schema itself first (Draft 2020-12 metaschema), then each FILE
(one JSON document, "-" for stdin). Prints one line per invalid document,
naming the first errors by JSON path, and exits 1 if any document is
invalid, 2 if the schema or a file cannot be read.

--each prints one line per document instead, "valid FILE" or "invalid
FILE", and exits 0 unless the schema or a file cannot be read: one run
checks many documents (the tests' mutations) without a Python start each.

--strict closes every object the schema describes (additionalProperties:
false wherever an object schema lists properties and says nothing about
others), so a member the writers emit without documenting it fails. The
published schema stays open on purpose: within ecntrace/1 consumers must
ignore members they do not know.
"""
import copy
import json
import sys

import jsonschema


def close_objects(node, root=True):
    """The schema with every described object closed (not the root, whose
    members are described again, completely, by each command's $defs)."""
    if isinstance(node, dict):
        out = {k: close_objects(v, False) for k, v in node.items()}
        if (not root and out.get("type") == "object" and "properties" in out
                and "additionalProperties" not in out):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [close_objects(v, False) for v in node]
    return node


def where(err):
    return "$" + "".join(
        "[%d]" % p if isinstance(p, int) else ".%s" % p for p in err.absolute_path)


def main(argv):
    args = argv[1:]
    strict = each = False
    while args and args[0] in ("--strict", "--each"):
        strict |= args[0] == "--strict"
        each |= args[0] == "--each"
        args = args[1:]
    if len(args) < 2:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    try:
        with open(args[0]) as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        print("%s: bad schema: %s" % (args[0], str(e).splitlines()[0]))
        return 2
    if strict:
        schema = close_objects(copy.deepcopy(schema))
    validator = cls(schema)
    bad = 0
    for name in args[1:]:
        try:
            if name == "-":
                doc = json.load(sys.stdin)
            else:
                with open(name) as f:
                    doc = json.load(f)
        except (OSError, ValueError) as e:
            print("%s: not JSON: %s" % (name, e))
            return 2
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if each:
            print("%s %s" % ("invalid" if errors else "valid", name))
        elif errors:
            bad += 1
            for e in errors[:5]:
                print("%s: %s: %s" % (name, where(e), e.message[:300]))
    return 1 if bad and not each else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
