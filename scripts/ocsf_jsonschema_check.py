#!/usr/bin/env python3
"""Second, independent OCSF check of canonical events (JSON Lines).

The project's own schema (schemas/ocsf-1.8.0-event.schema.json) is generated from the
OCSF definitions by schemas/gen. This check does not use it: it validates every event
against the JSON Schema that the PyPI package `ocsf-json-schema` builds from its own
compiled copy of OCSF 1.8.0, per class and with the profiles the event declares in
metadata.profiles. Two independently built schemas agreeing is the point.

usage: python3 scripts/ocsf_jsonschema_check.py EVENTS.jsonl
needs: pip install ocsf-json-schema jsonschema
"""
import json
import sys
from collections import Counter

from jsonschema import Draft202012Validator
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

VERSION = "1.8.0"


def main(path):
    ocsf = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=VERSION))
    validators = {}
    problems = Counter()
    examples = {}
    classes = Counter()
    n = 0
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            n += 1
            ev = json.loads(line)
            cls = ev.get("class_uid")
            profiles = tuple(sorted((ev.get("metadata") or {}).get("profiles") or []))
            key = (cls, profiles)
            if key not in validators:
                name = ocsf.lookup_class_name_from_uid(class_uid=cls)
                schema = ocsf.get_class_schema(class_name=name, profiles=list(profiles))
                validators[key] = Draft202012Validator(schema)
            classes[cls] += 1
            for err in validators[key].iter_errors(ev):
                where = "/".join(str(p) for p in err.absolute_path) or "(event)"
                k = f"class {cls}: {where}: {err.message[:160]}"
                problems[k] += 1
                examples.setdefault(k, lineno)
    print(f"ocsf-json-schema {VERSION}: {n} events checked ({', '.join(f'{c}: {k}' for c, k in sorted(classes.items()))})")
    for k, c in problems.most_common(30):
        print(f"  {c} x {k} (first at line {examples[k]})")
    if problems:
        print(f"ocsf-json-schema: {sum(problems.values())} problem(s)")
        return 1
    if n == 0:
        print("ocsf-json-schema: no events")
        return 1
    print("ocsf-json-schema: 0 problems")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
