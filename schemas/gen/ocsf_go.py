"""Go code generation for gen_ocsf_schema.py --go: typed Go for the selected OCSF classes and the objects
they use, from the same merged definitions the JSON Schema is built from.

What is generated (package ocsf):
  * one struct per class (required attributes are non-pointer fields without omitempty, optional ones
    omitempty; optional objects are pointers), a Base struct with the attributes every selected class
    shares identically (embedded in each class), one struct per object of --go-objects;
    attributes whose object type is not in --go-objects are left out (listed in a comment);
  * integer enums as named types with constants, including 0 Unknown and 99 Other inherited from the
    base event; Caption() and Valid() per enum type;
  * Derive() per class: class_uid, category_uid, type_uid and every caption (class_name, category_name,
    activity_name, type_name, severity, status, the *_id siblings in nested objects) from the ids;
  * Check() per class: the invariants a typed value can still break (enum values, required strings
    non-empty, at_least_one / just_one constraints, time > 0, type_uid arithmetic);
  * AppendJSON per class: a reflection-free JSON encoder (helpers in the hand-written json.go).
The output is piped through gofmt by the Makefile / CI.
"""

import re

INITIALISMS = {"uid": "UID", "id": "ID", "ip": "IP", "api": "API", "url": "URL", "http": "HTTP", "mfa": "MFA",
               "os": "OS", "dns": "DNS", "tls": "TLS", "ldap": "LDAP", "uuid": "UUID", "json": "JSON",
               "mac": "MAC", "sha": "SHA", "ssl": "SSL", "ttl": "TTL", "cpe": "CPE", "vpc": "VPC", "ssh": "SSH",
               "imei": "IMEI", "ad": "AD", "sid": "SID", "gid": "GID", "pid": "PID", "tid": "TID", "cpu": "CPU",
               "ram": "RAM", "vm": "VM", "cidr": "CIDR", "asn": "ASN", "icmp": "ICMP", "mtu": "MTU", "url": "URL"}
# OCSF string types whose format Check tests (with the hand-written validators in package ocsf)
FORMAT_CHECKS = {"email_t": "ValidEmail", "ip_t": "ValidIP"}
SCALAR_GO = {"integer_t": "int", "long_t": "int64", "timestamp_t": "int64", "port_t": "int", "float_t": "float64",
             "boolean_t": "bool"}


def camel(snake):
    return "".join(INITIALISMS.get(w, w[:1].upper() + w[1:]) for w in snake.split("_") if w)


def ident(caption):
    words = re.split(r"[^0-9A-Za-z]+", caption)
    out = "".join(w[:1].upper() + w[1:] for w in words if w)
    return out or "X"


def gostr(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Field:
    def __init__(self, key, gname, gtype, kind, required, arr=False, enum=None, sibling=None, ocsf_type=None):
        self.key, self.gname, self.gtype, self.kind = key, gname, gtype, kind
        self.required, self.arr, self.enum, self.sibling, self.ocsf_type = required, arr, enum, sibling, ocsf_type

    @property
    def omitempty(self):
        return not self.required

    def sig(self):
        return (self.key, self.gtype, self.kind, self.required, self.arr)


class GoGen:
    def __init__(self, defs, cuids, objects, profiles=()):
        self.d, self.cuids, self.objects, self.profiles = defs, cuids, list(objects), list(profiles)
        for o in self.objects:
            if o not in defs.objs:
                raise SystemExit(f"unknown object {o}")
        self.enums = {}       # go type name -> (prefix, [(int, caption)], doc)
        self.consts = {}      # const name -> owner, to catch collisions
        self.structs = {}     # go name -> (doc, [Field], constraints, skipped)
        self.class_info = {}  # cu -> dict

    # ------------------------------------------------------------ model
    def enum_type(self, tname, prefix, enum, doc):
        vals = []
        for k, v in enum.items():
            try:
                n = int(k)
            except ValueError:
                return None
            vals.append((n, v.get("caption", k)))
        vals.sort()
        if tname in self.enums:
            if self.enums[tname][1] != vals:
                raise SystemExit(f"enum type {tname} defined twice with different values")
            return tname
        for n, cap in vals:
            c = prefix + ident(cap)
            if c in self.consts:
                raise SystemExit(f"constant {c} of {tname} collides with {self.consts[c]}")
            self.consts[c] = tname
        self.enums[tname] = (prefix, vals, doc)
        return tname

    def field(self, owner_go, key, spec, class_level_enum_name=None, class_level=False):
        """Field for attribute key, or None when its object type is not generated."""
        t = spec.get("type") or self.d.dattr.get(key, {}).get("type")
        arr = spec.get("is_array", self.d.dattr.get(key, {}).get("is_array", False))
        required = spec.get("requirement") == "required"
        gname = camel(key)
        sibling = self.d.dattr.get(key, {}).get("sibling")
        if t is None or t == "json_t":
            return Field(key, gname, "any", "any", required, arr)
        if t == "object":
            return Field(key, gname, "map[string]any", "map", required, arr)
        if t.endswith("_t"):
            base = self.d.dtypes.get(t, {}).get("type", t)
            scalar = SCALAR_GO.get(t) or SCALAR_GO.get(base) or "string"
            enum = spec.get("enum") or self.d.dattr.get(key, {}).get("enum")
            if enum and key not in ("class_uid", "category_uid", "type_uid") and scalar == "int":
                tname = class_level_enum_name or (camel(key) if class_level else owner_go + camel(key))
                prefix = tname[:-2] if tname.endswith("ID") else tname
                if class_level_enum_name and class_level_enum_name.startswith("ActivityID"):
                    prefix = owner_go
                doc = key if class_level else f"{key} of {owner_go}"
                if class_level_enum_name:
                    doc = f"{key} of {owner_go}"
                et = self.enum_type(tname, prefix, enum, doc)
                if et:
                    return Field(key, gname, ("[]" if arr else "") + et, "enum", required, arr, enum=et,
                                 sibling=sibling, ocsf_type=t)
            kind = {"int": "int", "int64": "int64", "float64": "float", "bool": "bool", "string": "string"}[scalar]
            gtype = scalar
            if kind == "bool" and not required and not arr:
                gtype, kind = "*bool", "boolptr"
            return Field(key, gname, ("[]" if arr else "") + gtype, kind, required, arr, ocsf_type=t)
        if t not in self.objects:
            return None
        og = camel(t)
        if arr:
            return Field(key, gname, "[]" + og, "obj", required, True, ocsf_type=t)
        if required:
            return Field(key, gname, og, "obj", True, ocsf_type=t)
        return Field(key, gname, "*" + og, "objptr", False, ocsf_type=t)

    def class_attrs(self, cu):
        name, attrs, cons, catuid, d = self.d.classes[cu]
        attrs = dict(attrs)
        for p in self.profiles:  # profile attributes, optional here (Derive declares the profile)
            for k, v in self.d.resolve_attrs(self.d.profiles[p].get("attributes", {})).items():
                if k not in attrs:
                    attrs[k] = {**v, "requirement": "optional", "_profile": p}
        return name, attrs, cons, catuid, d

    def build(self):
        for o in self.objects:
            attrs, cons = self.d.obj(o)
            og = camel(o)
            fields, skipped = [], []
            for k, spec in sorted(attrs.items()):
                f = self.field(og, k, spec)
                (fields.append(f) if f else skipped.append(k))
            cap = self.d.objs[o].get("caption", o)
            self.structs[og] = (f"{og} is the OCSF object {o} ({cap}).", fields, cons, skipped)
        per_class = {}
        for cu in self.cuids:
            name, attrs, cons, catuid, d = self.class_attrs(cu)
            cg = camel(name)
            fields, skipped = {}, []
            for k, spec in sorted(attrs.items()):
                f = self.field(cg, k, spec, class_level_enum_name=("ActivityID%d" % cu) if k == "activity_id" else None,
                               class_level=True)
                if f is None:
                    skipped.append(k)
                else:
                    f.profile = spec.get("_profile")
                    fields[k] = f
            per_class[cu] = (name, cg, fields, cons, catuid, d, skipped)
        # Base: attributes every class has with the same Go shape (activity_id is class-typed).
        common = None
        for cu, (_, _, fields, *_r) in per_class.items():
            sigs = {k: f.sig() for k, f in fields.items() if k != "activity_id"}
            common = sigs if common is None else {k: v for k, v in common.items() if sigs.get(k) == v}
        basekeys = sorted(common)
        first = per_class[self.cuids[0]][2]
        self.base = [first[k] for k in basekeys]
        for cu, (name, cg, fields, cons, catuid, d, skipped) in per_class.items():
            own = [fields["activity_id"]] + [f for k, f in sorted(fields.items()) if k not in common and k != "activity_id"]
            catname = [k for k, v in self.d.cats.items() if v == catuid][0]
            catcap = self.d.load("categories.json")["attributes"][catname]["caption"]
            self.class_info[cu] = dict(name=name, go=cg, caption=d.get("caption"), fields=own, cons=cons,
                                       catuid=catuid, catcap=catcap, skipped=skipped,
                                       profiles={f.key: f.profile for f in fields.values() if getattr(f, "profile", None)},
                                       all=fields)

    # ------------------------------------------------------------ emit
    def emit(self, version, cmdline):
        L = []
        w = L.append
        w(f"// Code generated by schemas/gen/gen_ocsf_schema.py {cmdline} from the official OCSF {version} definitions. DO NOT EDIT.")
        w("")
        w("package ocsf")
        w("")
        w('import (')
        w('\t"errors"')
        w('\t"slices"')
        w('\t"sync"')
        w(')')
        w("")
        w(f"// Version is the OCSF schema version of every event.")
        w(f"const Version = {gostr(version)}")
        w("")
        w("// Classes and categories.")
        w("const (")
        cats = {}
        for cu in self.cuids:
            ci = self.class_info[cu]
            w(f"\tClass{ci['go']} = {cu} // {ci['caption']}")
            cats[ci["catuid"]] = ci["catcap"]
        for uid, cap in sorted(cats.items()):
            w(f"\tCategory{ident(cap)} = {uid} // {cap}")
        w(")")
        w("")
        # enums
        for tname, (prefix, vals, doc) in sorted(self.enums.items()):
            w(f"// {tname} is the OCSF enum {doc}.")
            w(f"type {tname} int")
            w("")
            w(f"// {tname} values.")
            w("const (")
            for n, cap in vals:
                w(f"\t{prefix}{ident(cap)} {tname} = {n} // {cap}")
            w(")")
            w("")
            w(f"// Caption is the OCSF caption of the value (empty for a value OCSF does not define).")
            w(f"func (v {tname}) Caption() string {{")
            w("\tswitch v {")
            for n, cap in vals:
                w(f"\tcase {n}:")
                w(f"\t\treturn {gostr(cap)}")
            w("\t}")
            w('\treturn ""')
            w("}")
            w("")
            w(f"// Valid says whether OCSF defines the value.")
            w(f"func (v {tname}) Valid() bool {{")
            w("\tswitch v {")
            w("\tcase " + ", ".join(str(n) for n, _ in vals) + ":")
            w("\t\treturn true")
            w("\t}")
            w("\treturn false")
            w("}")
            w("")
        # structs
        w("// Base holds the attributes every generated class shares (embedded in each class).")
        w("type Base struct {")
        for f in self.base:
            self.emit_field(w, f)
        w("}")
        w("")
        for cu in self.cuids:
            ci = self.class_info[cu]
            w(f"// {ci['go']} is the OCSF class {ci['name']} ({ci['caption']}, class_uid {cu}).")
            if ci["skipped"]:
                w(f"// Not generated (object types auditstream does not emit): {', '.join(ci['skipped'])}.")
            if ci["profiles"]:
                w("// Profile attributes (Derive declares the profile in metadata.profiles when set): " +
                  ", ".join(f"{k} ({p})" for k, p in sorted(ci["profiles"].items())) + ".")
            w(f"type {ci['go']} struct {{")
            self.emit_field(w, ci["fields"][0])
            w("\tBase")
            for f in ci["fields"][1:]:
                self.emit_field(w, f)
            w("}")
            w("")
        for og, (doc, fields, cons, skipped) in sorted(self.structs.items()):
            w(f"// {doc}")
            if skipped:
                w(f"// Not generated (object types auditstream does not emit): {', '.join(skipped)}.")
            w(f"type {og} struct {{")
            for f in fields:
                self.emit_field(w, f)
            w("}")
            w("")
        self.emit_derive(w)
        self.emit_check(w)
        self.emit_json(w)
        return "\n".join(L) + "\n"

    def emit_field(self, w, f):
        tag = f.key + (",omitempty" if f.omitempty else "")
        w(f"\t{f.gname} {f.gtype} `json:\"{tag}\"`")

    # derive: captions from ids
    def needs_derive(self, og, seen=None):
        seen = seen or set()
        if og in seen:
            return False
        seen.add(og)
        _, fields, _, _ = self.structs[og]
        names = {f.key for f in fields}
        for f in fields:
            if f.kind == "enum" and not f.arr and f.sibling in names:
                return True
            if f.kind in ("obj", "objptr") and self.needs_derive(camel(f.ocsf_type), seen):
                return True
        return False

    def derive_body(self, w, fields, recv, skip=()):
        names = {f.key: f for f in fields}
        for f in fields:
            if f.key in skip:
                continue
            if f.kind == "enum" and not f.arr and f.sibling in names and names[f.sibling].kind == "string":
                s = names[f.sibling].gname
                cond = "" if f.required else f" && {recv}.{f.gname} != 0"
                w(f"\tif {recv}.{s} == \"\"{cond} {{")
                w(f"\t\t{recv}.{s} = {recv}.{f.gname}.Caption()")
                w("\t}")
            elif f.kind in ("obj", "objptr") and self.needs_derive(camel(f.ocsf_type)):
                if f.arr:
                    w(f"\tfor i := range {recv}.{f.gname} {{")
                    w(f"\t\t{recv}.{f.gname}[i].derive()")
                    w("\t}")
                elif f.kind == "objptr":
                    w(f"\tif {recv}.{f.gname} != nil {{")
                    w(f"\t\t{recv}.{f.gname}.derive()")
                    w("\t}")
                else:
                    w(f"\t{recv}.{f.gname}.derive()")

    def emit_derive(self, w):
        for og, (doc, fields, cons, skipped) in sorted(self.structs.items()):
            if not self.needs_derive(og):
                continue
            w(f"func (o *{og}) derive() {{")
            self.derive_body(w, fields, "o")
            w("}")
            w("")
        for cu in self.cuids:
            ci = self.class_info[cu]
            t = "ActivityID%d" % cu
            prefix, vals, _ = self.enums[t]
            w(f"// TypeName is the caption of the type_uid class_uid*100+activity_id.")
            w(f"func (v {t}) TypeName() string {{")
            w("\tswitch v {")
            for n, cap in vals:
                w(f"\tcase {n}:")
                w(f"\t\treturn {gostr(ci['caption'] + ': ' + cap)}")
            w("\t}")
            w('\treturn ""')
            w("}")
            w("")
            w(f"// Derive sets class_uid, category_uid, type_uid and the captions (class_name, category_name,")
            w(f"// type_name, and activity_name, severity, status and nested *_id siblings where the mapper left")
            w(f"// them empty) from the ids, and declares the profiles whose attributes are set.")
            w(f"func (e *{ci['go']}) Derive() {{")
            w(f"\te.ClassUID = Class{ci['go']}")
            w(f"\te.CategoryUID = {ci['catuid']}")
            w(f"\te.ClassName = {gostr(ci['caption'])}")
            w(f"\te.CategoryName = {gostr(ci['catcap'])}")
            w(f"\te.TypeUID = int64(Class{ci['go']})*100 + int64(e.ActivityID)")
            w(f"\te.TypeName = e.ActivityID.TypeName()")
            w(f"\tif e.ActivityName == \"\" {{")
            w(f"\t\te.ActivityName = e.ActivityID.Caption()")
            w("\t}")
            self.derive_body(w, self.base, "e", skip=("activity_id",))
            self.derive_body(w, ci["fields"][1:], "e")
            for k, p in sorted(ci["profiles"].items()):
                w(f"\tif {self.present(ci['all'][k], 'e')} {{")
                w(f"\t\te.Metadata.Profiles = addProfile(e.Metadata.Profiles, {gostr(p)})")
                w("\t}")
            w("}")
            w("")
            g = ci['go']
            w(f"var pool{g} = sync.Pool{{New: func() any {{ return new({g}) }}}}")
            w("")
            w(f"// New{g} returns a zeroed event from a pool; give it back with Release once its JSON is")
            w(f"// written.")
            w(f"func New{g}() *{g} {{ return pool{g}.Get().(*{g}) }}")
            w("")
            # the class's own object arrays keep their (cleared) backing arrays, so a pooled
            # event appends its resources without allocating; mappers only ever append to them
            keep = [f for f in ci["fields"][1:] if f.arr and f.kind == "obj"]
            w(f"// Release zeroes the event and returns it to the pool; it must not be used afterwards.")
            if keep:
                w(f"// The backing arrays of {', '.join(f.key for f in keep)} are kept (cleared) for the next")
                w(f"// event, which appends to them: a mapper must append to these, never assign a shared slice.")
            w(f"func (e *{g}) Release() {{")
            for f in keep:
                w(f"\t{f.gname[0].lower() + f.gname[1:]} := e.{f.gname}[:0]")
                w(f"\tclear(e.{f.gname}[:cap(e.{f.gname})])")
            w(f"\t*e = {g}{{}}")
            for f in keep:
                w(f"\te.{f.gname} = {f.gname[0].lower() + f.gname[1:]}")
            w(f"\tpool{g}.Put(e)")
            w("}")
            w("")
            w(f"// EventBase returns the shared attributes.")
            w(f"func (e *{ci['go']}) EventBase() *Base {{ return &e.Base }}")
            w("")
            w(f"// Class returns the class_uid.")
            w(f"func (e *{ci['go']}) Class() int {{ return Class{ci['go']} }}")
            w("")

    # check: invariants
    def present(self, f, recv):
        x = f"{recv}.{f.gname}"
        if f.arr or f.kind in ("map",):
            return f"len({x}) > 0"
        return {"string": f'{x} != ""', "objptr": f"{x} != nil", "boolptr": f"{x} != nil", "any": f"{x} != nil",
                "int": f"{x} != 0", "int64": f"{x} != 0", "float": f"{x} != 0", "enum": f"{x} != 0",
                "bool": "true", "obj": "true"}[f.kind]

    def check_body(self, w, fields, cons, recv, skip=()):
        names = {f.key: f for f in fields}
        for f in fields:
            if f.key in skip:
                continue
            x = f"{recv}.{f.gname}"
            if f.kind == "string" and f.required and not f.arr:
                w(f"\tif {x} == \"\" {{")
                w(f"\t\treturn errors.New({gostr(f.key + ' is required')})")
                w("\t}")
            if f.kind == "string" and f.ocsf_type in FORMAT_CHECKS:
                fn = FORMAT_CHECKS[f.ocsf_type]
                if f.arr:
                    w(f"\tfor _, v := range {x} {{")
                    w(f"\t\tif !{fn}(v) {{")
                    w(f"\t\t\treturn errors.New({gostr(f.key + ' is not a valid ' + f.ocsf_type)})")
                    w("\t\t}")
                    w("\t}")
                else:
                    w(f"\tif {x} != \"\" && !{fn}({x}) {{")
                    w(f"\t\treturn errors.New({gostr(f.key + ' is not a valid ' + f.ocsf_type)})")
                    w("\t}")
            if f.kind == "enum":
                if f.arr:
                    w(f"\tfor _, v := range {x} {{")
                    w("\t\tif !v.Valid() {")
                    w(f"\t\t\treturn errors.New({gostr(f.key + ' has a value OCSF does not define')})")
                    w("\t\t}")
                    w("\t}")
                else:
                    opt = "" if f.required else f"{x} != 0 && "
                    w(f"\tif {opt}!{x}.Valid() {{")
                    w(f"\t\treturn errors.New({gostr(f.key + ' has a value OCSF does not define')})")
                    w("\t}")
            if f.kind in ("obj", "objptr"):
                if f.arr:
                    w(f"\tfor i := range {x} {{")
                    w(f"\t\tif err := {x}[i].check(); err != nil {{")
                    w(f"\t\t\treturn wrapIndex({gostr(f.key)}, i, err)")
                    w("\t\t}")
                    w("\t}")
                elif f.kind == "objptr":
                    w(f"\tif {x} != nil {{")
                    w(f"\t\tif err := {x}.check(); err != nil {{")
                    w(f"\t\t\treturn wrap({gostr(f.key)}, err)")
                    w("\t\t}")
                    w("\t}")
                else:
                    w(f"\tif err := {x}.check(); err != nil {{")
                    w(f"\t\treturn wrap({gostr(f.key)}, err)")
                    w("\t}")
        for kind, keys in sorted((cons or {}).items()):
            have = [names[k] for k in keys if k in names]
            terms = [f"b2i({self.present(f, recv)})" for f in have] or ["0"]
            cond = {"at_least_one": "< 1", "just_one": "!= 1"}.get(kind)
            if cond is None:
                continue
            w(f"\tif n := {' + '.join(terms)}; n {cond} {{")
            w(f"\t\treturn errors.New({gostr(kind.replace('_', ' ') + ' of ' + ', '.join(keys) + ' is required')})")
            w("\t}")

    def emit_check(self, w):
        for og, (doc, fields, cons, skipped) in sorted(self.structs.items()):
            w(f"func (o *{og}) check() error {{")
            self.check_body(w, fields, cons, "o")
            w("\treturn nil")
            w("}")
            w("")
        w("func (e *Base) check() error {")
        self.check_body(w, self.base, {}, "e")
        w("\treturn nil")
        w("}")
        w("")
        for cu in self.cuids:
            ci = self.class_info[cu]
            w(f"// Check tests the invariants the types cannot express: class, category and type_uid")
            w(f"// consistency, time > 0, enum values OCSF defines, required strings non-empty and the")
            w(f"// at_least_one / just_one constraints of the class and of every object it holds.")
            w(f"func (e *{ci['go']}) Check() error {{")
            w(f"\tif e.ClassUID != Class{ci['go']} || e.CategoryUID != {ci['catuid']} || e.TypeUID != int64(Class{ci['go']})*100+int64(e.ActivityID) {{")
            w(f"\t\treturn errors.New(\"class_uid, category_uid and type_uid do not match the class (Derive not called?)\")")
            w("\t}")
            w("\tif e.Time <= 0 {")
            w("\t\treturn errors.New(\"time is required\")")
            w("\t}")
            for p in self.profiles:
                req = [k for k, v in self.d.resolve_attrs(self.d.profiles[p].get("attributes", {})).items()
                       if v.get("requirement") == "required"]
                for k in req:
                    f = ci["all"].get(k)
                    if f is None:
                        continue
                    w(f"\tif slices.Contains(e.Metadata.Profiles, {gostr(p)}) && !({self.present(f, 'e')}) {{")
                    w(f"\t\treturn errors.New({gostr('profile ' + p + ' requires ' + k)})")
                    w("\t}")
            w("\tif err := e.Base.check(); err != nil {")
            w("\t\treturn err")
            w("\t}")
            self.check_body(w, ci["fields"], ci["cons"], "e")
            w("\treturn nil")
            w("}")
            w("")

    # JSON encoder
    def json_fields(self, w, fields, recv):
        for f in fields:
            x = f"{recv}.{f.gname}"
            key = gostr(f'"{f.key}":')
            if f.arr:
                elem = {"string": "appendString(b, v)", "int": "appendInt(b, int64(v))", "int64": "appendInt(b, v)",
                        "enum": "appendInt(b, int64(v))", "float": "appendFloat(b, v)", "bool": "appendBool(b, v)",
                        "obj": "v.appendJSON(b)", "any": "appendAny(b, v)", "map": "appendAny(b, v)"}[f.kind]
                rng = f"for i := range {x} {{" if f.kind == "obj" else f"for i, v := range {x} {{"
                ind = "\t" if not f.required else ""
                if not f.required:
                    w(f"\tif len({x}) > 0 {{")
                w(f"{ind}\tb = appendKey(b, {key})")
                w(f"{ind}\tb = append(b, '[')")
                w(f"{ind}\t{rng}")
                w(f"{ind}\t\tif i > 0 {{")
                w(f"{ind}\t\t\tb = append(b, ',')")
                w(f"{ind}\t\t}}")
                if f.kind == "obj":
                    w(f"{ind}\t\tb = {x}[i].appendJSON(b)")
                else:
                    w(f"{ind}\t\tb = {elem}")
                w(f"{ind}\t}}")
                w(f"{ind}\tb = append(b, ']')")
                if not f.required:
                    w("\t}")
                continue
            val = {"string": f"appendString(b, {x})", "int": f"appendInt(b, int64({x}))", "int64": f"appendInt(b, {x})",
                   "enum": f"appendInt(b, int64({x}))", "float": f"appendFloat(b, {x})", "bool": f"appendBool(b, {x})",
                   "boolptr": f"appendBool(b, *{x})", "obj": f"{x}.appendJSON(b)", "objptr": f"{x}.appendJSON(b)",
                   "any": f"appendAny(b, {x})", "map": f"appendMap(b, {x})"}[f.kind]
            if f.required:
                w(f"\tb = appendKey(b, {key})")
                w(f"\tb = {val}")
            else:
                w(f"\tif {self.present(f, recv)} {{")
                w(f"\t\tb = appendKey(b, {key})")
                w(f"\t\tb = {val}")
                w("\t}")

    def emit_json(self, w):
        for og, (doc, fields, cons, skipped) in sorted(self.structs.items()):
            w(f"func (o *{og}) appendJSON(b []byte) []byte {{")
            w("\tb = append(b, '{')")
            self.json_fields(w, fields, "o")
            w("\treturn append(b, '}')")
            w("}")
            w("")
        for cu in self.cuids:
            ci = self.class_info[cu]
            w(f"// AppendJSON appends the event as one JSON object (no reflection; omitempty as the struct tags say).")
            w(f"func (e *{ci['go']}) AppendJSON(b []byte) []byte {{")
            w("\tb = append(b, '{')")
            self.json_fields(w, ci["fields"][:1], "e")
            self.json_fields(w, self.base, "e")
            self.json_fields(w, ci["fields"][1:], "e")
            w("\treturn append(b, '}')")
            w("}")
            w("")
