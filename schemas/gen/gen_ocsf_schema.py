#!/usr/bin/env python3
"""Generates a JSON Schema (draft 2020-12) for canonical auditstream events from the official OCSF
definitions, enforcing the same rules as the official OCSF checker (ocsf_check.py).

Usage:
    python3 schemas/gen/gen_ocsf_schema.py --ocsf <OCSF 1.8.0 definitions> --classes 3002,6001,6003 --profiles cloud,host \
        > schemas/ocsf-1.8.0-event.schema.json

Stdlib only. The definition loading (extends chains, $include, shallow attribute merge, profile
includes skipped) is a copy of the checker's logic so that both agree; see check_equivalence.py.

Semantics mirrored from ocsf_check.py:
  * class_uid selects the class (if/then per class); category_uid must equal the class's category uid.
  * type_uid must equal class_uid*100+activity_id (tied per allowed activity_id).
  * "required" attributes must be present and non-null (the checker tests d.get(k) is None);
    all other known attributes may be null (the checker skips null values).
  * at_least_one / just_one constraints count attributes that are present and non-null.
  * primitive types: integer_t/long_t/timestamp_t/port_t -> integer, float_t -> number,
    boolean_t -> boolean, json_t -> anything, every other *_t -> string (+ type regex, if any).
    Type ranges / max_len are NOT checked (the checker ignores them).
  * enums (from the attribute spec, falling back to the dictionary; an enum redefined down the extends
    chain is MERGED with the inherited one, as the OCSF compiler does, so every class keeps the base
    event's 0 Unknown and 99 Other activity ids) apply to *_t types except
    class_uid/category_uid/type_uid and json_t; the checker compares str(value) with the enum keys.
  * object-typed attributes are checked recursively with additionalProperties:false; the generic
    "object" type accepts any JSON object.
  * profiles: profile attributes are not allowed (auditstream declares no profiles). Declaring one of
    the known profiles in metadata.profiles is rejected, so the schema is never more lenient than
    the checker (which would then require/allow that profile's attributes).

One deliberate departure from the checker, following the OCSF schema compiler instead: the observable
type_id enum (observable.type_id) holds 0, 99 and every dictionary type's and attribute's "observable"
number (2 IP Address, 4 User Name, 5 Email Address, ...), as in the compiled OCSF 1.8.0 schema; the
checker reads only the raw objects/observable.json (0 and 99) and rejects the others. See
Defs.observable_types.
"""
import argparse, glob, json, os, re, sys

PRIM = {"boolean_t": "boolean", "integer_t": "integer", "long_t": "integer", "timestamp_t": "integer",
        "port_t": "integer", "float_t": "number"}
UNCHECKED_ENUM_KEYS = ("class_uid", "category_uid", "type_uid")


# ---------------------------------------------------------------- definition loading (as the checker)
def overlay(old, new):
    """An attribute redefined down the extends chain keeps its parent's enum values (0 Unknown, 99 Other)
    beside its own, as the OCSF schema compiler merges them."""
    out = {**old, **new}
    if isinstance(old.get("enum"), dict) and isinstance(new.get("enum"), dict):
        out["enum"] = {**old["enum"], **new["enum"]}
    return out


class Defs:
    def __init__(self, root):
        self.root = root
        dic = self.load("dictionary.json")
        self.dattr, self.dtypes = dic["attributes"], dic["types"]["attributes"]
        self.cats = {k: v["uid"] for k, v in self.load("categories.json")["attributes"].items()}
        self.objs, self.evs = self.index("objects"), self.index("events")
        self.profiles = {os.path.basename(p)[:-5]: json.load(open(p))
                         for p in glob.glob(os.path.join(root, "profiles", "*.json"))}
        self.classes = {}
        for name, d in self.evs.items():
            if "uid" not in d:
                continue
            attrs, cons, cat = self.merged(d, self.evs)
            if cat not in self.cats:
                continue
            self.classes[self.cats[cat] * 1000 + d["uid"]] = (name, attrs, cons, self.cats[cat], d)
        self.objcache = {}
        self.observable_types(dic)

    def observable_types(self, dic):
        """The observable type_id enum as the OCSF schema compiler builds it: the raw
        objects/observable.json lists only 0 Unknown and 99 Other; the compiler adds every dictionary
        type and every dictionary attribute that carries an "observable" number, with that type's or
        attribute's caption (e.g. 2 IP Address from ip_t, 4 User Name from username_t, 5 Email Address
        from email_t, 16 HTTP User-Agent from user_agent). The official checker (ocsf_check.py) reads
        the raw file and does not do this yet, so it rejects these type_ids; the compiled schema
        (OCSF server, PyPI ocsf-json-schema) accepts them. Objects and object-specific attributes
        with an observable number (20 Endpoint, 31 User Object: uid, ...) are not added: auditstream
        emits observables only for typed scalar values."""
        obs = self.objs.get("observable", {}).get("attributes", {}).get("type_id")
        if not obs or not isinstance(obs.get("enum"), dict):
            return
        enum = dict(obs["enum"])
        for kind, table in (("Type", dic["types"]["attributes"]), ("Attribute", dic["attributes"])):
            for name, v in table.items():
                n = v.get("observable")
                if n is None or str(n) in enum:
                    continue
                enum[str(n)] = {"caption": v.get("caption", name),
                                "description": f"Observable by Dictionary {kind}.<br>" + v.get("description", "")}
        obs["enum"] = {k: enum[k] for k in sorted(enum, key=int)}

    def load(self, p):
        return json.load(open(os.path.join(self.root, p)))

    def index(self, folder):
        out = {}
        for p in sorted(glob.glob(os.path.join(self.root, folder, "**", "*.json"), recursive=True)):
            d = json.load(open(p))
            out[d.get("name") or os.path.basename(p)[:-5]] = d
        return out

    def includes(self, attrs):
        out = {}
        inc = attrs.get("$include")
        incs = inc if isinstance(inc, list) else [inc] if inc else []
        for i in incs:
            if i.startswith("profiles/"):
                continue  # profile attributes apply only when declared
            d = json.load(open(os.path.join(self.root, i)))
            out.update(self.resolve_attrs(d.get("attributes", {})))
        return out

    def resolve_attrs(self, attrs):
        out = self.includes(attrs)
        for k, v in attrs.items():
            if k == "$include":
                continue
            out[k] = overlay(out.get(k, {}), v)
        return out

    @staticmethod
    def chain(d, table):
        seen = []
        while d is not None:
            seen.append(d)
            e = d.get("extends")
            d = table.get(e) if e else None
        return list(reversed(seen))

    def merged(self, d, table):
        attrs, cons, cat = {}, {}, None
        for x in self.chain(d, table):
            for k, v in self.resolve_attrs(x.get("attributes", {})).items():
                attrs[k] = overlay(attrs.get(k, {}), v)
            cons.update(x.get("constraints", {}) or {})
            cat = x.get("category", cat)
        return attrs, cons, cat

    def obj(self, name):
        if name not in self.objcache:
            self.objcache[name] = self.merged(self.objs[name], self.objs)[:2] if name in self.objs else ({}, {})
        return self.objcache[name]


# ---------------------------------------------------------------- regex translation
# The checker uses Python re.match(rx, v) on str: anchored at the start only, "\d"/"\s" are Unicode
# classes, "." is any char but "\n", "$" matches at the end or before a final "\n". JSON Schema
# "pattern" is ECMA-262 (unanchored search), the Go validator uses RE2. We rewrite into a dialect-neutral
# form with identical meaning under ECMA-262 (u mode) and Go RE2:
#   wrap in ^(?:...)          (re.match anchoring)
#   \d -> explicit class of every char Python's \d matches (Unicode Nd), \s likewise (the class holds
#         astral code points, so an ECMA engine must compile it in Unicode ("u") mode, as Go RE2 and
#         python re do; --ascii-classes gives [0-9] / [\t\n\v\f\r ] instead, stricter than the checker)
#   .  -> [^\n]               (ECMA "." also excludes \r, \u2028, \u2029)
#   $  -> (?:\n?$)            (Python's "$" also matches before a trailing newline)
def _py_class_members(esc):
    rx = re.compile(esc)
    return [c for c in range(0x110000) if rx.match(chr(c))]

_CLASS_CACHE = {}
ASCII_CLASSES = {"\\d": "0-9", "\\s": "\\x09-\\x0d\\x20"}  # used with --ascii-classes
USE_ASCII = False

def _class_body(esc):
    if USE_ASCII:
        return ASCII_CLASSES[esc]
    if esc in _CLASS_CACHE:
        return _CLASS_CACHE[esc]
    cps = _py_class_members(esc)
    ranges, start, prev = [], None, None
    for c in cps:
        if start is None:
            start = prev = c
        elif c == prev + 1:
            prev = c
        else:
            ranges.append((start, prev)); start = prev = c
    if start is not None:
        ranges.append((start, prev))

    def lit(c):
        if c < 0x100 and not (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5a or 0x61 <= c <= 0x7a):
            return "\\x%02x" % c  # \xHH is understood by ECMA, RE2 and Python
        return chr(c)  # literal (JSON-escaped in the output file)

    body = "".join(lit(a) if a == b else lit(a) + ("" if b == a + 1 else "-") + lit(b) for a, b in ranges)
    _CLASS_CACHE[esc] = body
    return body


def translate_regex(rx):
    out, i, in_class = [], 0, False
    while i < len(rx):
        ch = rx[i]
        if ch == "\\":
            nxt = rx[i + 1]
            if nxt in "ds":
                body = _class_body("\\" + nxt)
                out.append(body if in_class else "[" + body + "]")
            elif nxt in "wWDSbBAZ" or nxt.isdigit():
                raise SystemExit(f"regex construct \\{nxt} not handled by translate_regex: {rx}")
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            out.append(ch)
            # a leading ^ and/or ] belong to the class
            if rx[i + 1:i + 2] == "^":
                out.append("^"); i += 1
            if rx[i + 1:i + 2] == "]":
                out.append("]"); i += 1
        elif ch == ".":
            out.append("[^\\n]")
        elif ch == "$":
            out.append("(?:\\n?$)")
        else:
            out.append(ch)
        i += 1
    return "^(?:" + "".join(out) + ")"


# ---------------------------------------------------------------- schema building
def present(k):
    return {"required": [k], "properties": {k: {"not": {"type": "null"}}}}


def nullable(s):
    if s is True:
        return True
    if isinstance(s, dict) and isinstance(s.get("type"), str) and "$ref" not in s:
        s = dict(s)
        s["type"] = [s["type"], "null"]
        if "enum" in s:
            s["enum"] = s["enum"] + [None]
        return s
    return {"anyOf": [{"type": "null"}, s]}


class Gen:
    def __init__(self, defs, profiles=()):
        self.d = defs
        self.profiles = list(profiles)
        for p in self.profiles:
            if p not in defs.profiles:
                raise SystemExit(f"unknown profile {p}")
        self.defs = {}          # name -> schema
        self.todo = []          # object names to generate
        self.objnames = set()
        self.typenames = set()

    def ref_obj(self, name):
        if name not in self.objnames:
            self.objnames.add(name)
            self.todo.append(name)
        return {"$ref": "#/$defs/obj." + name}

    def ref_type(self, t, jtype, rx):
        name = "type." + t
        if name not in self.defs:
            self.defs[name] = {"$comment": f"OCSF {t}; checker regex {rx!r} (re.match), rewritten for ECMA-262/RE2",
                               "type": jtype, "pattern": translate_regex(rx)}
        return {"$ref": "#/$defs/" + name}

    def enum_values(self, key, jtype, enum):
        vals = []
        for k in enum:
            if jtype == "string":
                vals.append(k)
            elif jtype in ("integer", "number"):
                try:
                    if str(int(k)) == k:
                        vals.append(int(k)); continue
                except ValueError:
                    pass
                if jtype == "number":
                    try:
                        if repr(float(k)) == k:
                            vals.append(float(k))
                    except ValueError:
                        pass
            elif jtype == "boolean" and k in ("True", "False"):
                vals.append(k == "True")
        return vals

    def scalar(self, key, spec, t):
        if t.endswith("_t"):
            if t == "json_t":
                return True
            base = self.d.dtypes.get(t, {}).get("type", t)
            jtype = PRIM.get(t) or PRIM.get(base) or "string"
            rx = self.d.dtypes.get(t, {}).get("regex")
            enum = spec.get("enum") or self.d.dattr.get(key, {}).get("enum")
            if rx and jtype == "string":
                s = self.ref_type(t, jtype, rx)
                if enum and key not in UNCHECKED_ENUM_KEYS:
                    s = {"allOf": [s], "enum": self.enum_values(key, jtype, enum)}
                return s
            s = {"type": jtype}
            if enum and key not in UNCHECKED_ENUM_KEYS:
                s["enum"] = self.enum_values(key, jtype, enum)
            return s
        if t == "object":
            return {"type": "object"}
        return self.ref_obj(t)

    def prop(self, key, spec):
        required = spec.get("requirement") == "required"
        t = spec.get("type") or self.d.dattr.get(key, {}).get("type")
        if t is None:
            s = True  # the checker does not look at values of untyped attributes
        else:
            arr = spec.get("is_array", self.d.dattr.get(key, {}).get("is_array", False))
            elem = self.scalar(key, spec, t)
            s = {"type": "array", "items": elem} if arr else elem
        if required:
            if s is True:
                s = {"not": {"type": "null"}}
            return s
        return nullable(s)

    def fields(self, attrs, cons):
        props = {k: self.prop(k, spec) for k, spec in sorted(attrs.items())}
        req = sorted(k for k, spec in attrs.items() if spec.get("requirement") == "required")
        out = {"type": "object", "properties": props, "additionalProperties": False}
        if req:
            out["required"] = req
        allof = []
        for kind, keys in sorted((cons or {}).items()):
            if kind == "at_least_one":
                allof.append({"anyOf": [present(k) for k in keys]} if keys else False)
            elif kind == "just_one":
                allof.append({"oneOf": [present(k) for k in keys]} if keys else False)
        if allof:
            out["allOf"] = allof
        return out

    def gen_class(self, cu):
        name, attrs, cons, catuid, d = self.d.classes[cu]
        s = self.fields(attrs, cons)
        s = {"$comment": f"OCSF class {name} ({d.get('caption')}), class_uid {cu}", **s}
        allof = s.setdefault("allOf", [])
        # category_uid: the checker tests e.get("category_uid") != category uid (so it is mandatory)
        if "category_uid" not in s.get("required", []):
            s["required"] = sorted(s.get("required", []) + ["category_uid"])
        allof.append({"properties": {"category_uid": {"const": catuid}, "class_uid": {"const": cu}}})
        # type_uid == class_uid*100 + activity_id whenever activity_id is non-null
        aspec = attrs.get("activity_id", {})
        aenum = aspec.get("enum") or self.d.dattr.get("activity_id", {}).get("enum") or {}
        aids = self.enum_values("activity_id", "integer", aenum)
        pairs = [{"properties": {"activity_id": {"const": a}, "type_uid": {"const": cu * 100 + a}},
                  "required": ["type_uid"]} for a in aids]
        allof.append({"$comment": "type_uid = class_uid*100 + activity_id",
                      "if": present("activity_id"), "then": {"anyOf": pairs} if pairs else False})
        if aspec.get("requirement") == "required" and "type_uid" in s["properties"]:
            tu = s["properties"]["type_uid"]
            s["properties"]["type_uid"] = {**tu, "enum": [cu * 100 + a for a in aids]}
        # Supported profiles (--profiles): their attributes are allowed only when metadata.profiles
        # declares the profile, and its required ones are then mandatory (the class's own spec of an
        # attribute wins, as in the checker).
        for p in self.profiles:
            pattrs = self.d.resolve_attrs(self.d.profiles[p].get("attributes", {}))
            only = sorted(k for k in pattrs if k not in attrs)
            for k in only:
                s["properties"][k] = self.prop(k, {**pattrs[k], "requirement": "optional"})
            req = sorted(k for k, v in pattrs.items() if v.get("requirement") == "required")
            then = {"required": req, "properties": {k: {"not": {"type": "null"}} for k in req}} if req else True
            allof.append({"$comment": f"profile {p}: its attributes only when metadata.profiles declares it",
                          "if": {"required": ["metadata"], "properties": {"metadata": {
                              "required": ["profiles"], "properties": {"profiles": {"type": "array", "contains": {"const": p}}}}}},
                          "then": then,
                          "else": {"not": {"anyOf": [{"required": [k]} for k in only]}} if only else True})
        # other profiles are not supported: reject declaring a known one (the checker would then
        # require and allow its attributes)
        rest = sorted(set(self.d.profiles) - set(self.profiles))
        if rest:
            allof.append({"$comment": "unsupported profiles: metadata.profiles must not name another known profile",
                          "properties": {"metadata": {"properties": {"profiles": {
                              "not": {"contains": {"enum": rest}}}}}}})
        return s

    def build(self, cuids, version):
        dispatch = []
        for cu in cuids:
            if cu not in self.d.classes:
                raise SystemExit(f"unknown class_uid {cu}")
            self.defs[f"class.{cu}"] = self.gen_class(cu)
            dispatch.append({"if": {"properties": {"class_uid": {"const": cu}}, "required": ["class_uid"]},
                             "then": {"$ref": f"#/$defs/class.{cu}"}})
        while self.todo:
            n = self.todo.pop(0)
            attrs, cons = self.d.obj(n)
            body = self.fields(attrs, cons)
            cap = self.d.objs.get(n, {}).get("caption")
            self.defs["obj." + n] = {"$comment": f"OCSF object {n}" + (f" ({cap})" if cap else " (not defined: must be empty)"), **body}
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$comment": (f"GENERATED from OCSF {version} by schemas/gen/gen_ocsf_schema.py "
                         f"(--classes {','.join(map(str, cuids))}"
                         + (f" --profiles {','.join(self.profiles)}" if self.profiles else "") + "); DO NOT EDIT BY HAND - regenerate instead. "
                         "Mirrors the official OCSF checker (ocsf_check.py). Object recursion is NOT depth-capped: every "
                         "reachable object type is one $defs entry and objects reference each other (recursively) "
                         "via $ref, so the output stays linear in the number of object types and nested objects "
                         "are validated at any depth, as the checker does. Regexes are rewritten for ECMA-262/RE2 "
                         "(see $defs type.*)."),
            "title": f"auditstream canonical event (OCSF {version}, classes {', '.join(map(str, cuids))})",
            "type": "object",
            "required": ["class_uid"],
            "properties": {"class_uid": {"enum": list(cuids)}},
            "allOf": dispatch,
            "$defs": dict(sorted(self.defs.items())),
        }


GO_OBJECTS = ("account,actor,api,cloud,metadata,network_endpoint,observable,organization,product,request,resource_details,"
              "service,session,user,web_resource")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ocsf", required=True, help="OCSF schema directory (the official 1.8.0 definitions)")
    ap.add_argument("--classes", required=True, help="comma separated class_uids, e.g. 3002,6001,6003")
    ap.add_argument("--profiles", default="", help="comma separated profiles events may declare (e.g. cloud)")
    ap.add_argument("--ascii-classes", action="store_true",
                    help="translate \\d/\\s to ASCII classes: portable to non-Unicode-mode ECMA engines, but stricter "
                         "than the checker (Python's \\d/\\s also match non-ASCII digits/whitespace)")
    ap.add_argument("--go", action="store_true", help="write typed Go (package ocsf) instead of the JSON Schema")
    ap.add_argument("--go-objects", default=GO_OBJECTS, help="objects to generate Go types for (--go)")
    a = ap.parse_args()
    global USE_ASCII
    USE_ASCII = a.ascii_classes
    defs = Defs(a.ocsf)
    version = defs.load("version.json").get("version", "?")
    cuids = [int(x) for x in a.classes.split(",") if x.strip()]
    profiles = [x for x in a.profiles.split(",") if x.strip()]
    if a.go:
        from ocsf_go import GoGen
        g = GoGen(defs, cuids, [x for x in a.go_objects.split(",") if x.strip()], profiles)
        g.build()
        cmd = f"--classes {a.classes}" + (f" --profiles {a.profiles}" if profiles else "") + " --go"
        if a.go_objects != GO_OBJECTS:
            cmd += f" --go-objects {a.go_objects}"
        sys.stdout.write(g.emit(version, cmd))
        return
    schema = Gen(defs, profiles).build(cuids, version)
    json.dump(schema, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
