#!/usr/bin/env python3
"""Writes the OpenAPI 3.1 document of `palimpsest serve`'s /api/v1 from the JSON schemas of the
reading commands' --json output (Schemas/*.json): the API answers exactly what the CLI prints.

Usage: python3 tools/make-openapi.py [--check]
Writes Sources/PalimpsestServer/Resources/openapi.json; --check exits 1 if the file is out of date.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = os.path.join(ROOT, "Schemas")
OUT = os.path.join(ROOT, "Sources", "PalimpsestServer", "Resources", "openapi.json")


def component_name(file_name):
    return file_name.replace(".schema.json", "")


def rewrite(node, name, defs_prefix):
    """Turns the schemas' own references into references among the document's components."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("$schema", "$id"):
                continue
            if key == "$ref" and isinstance(value, str):
                if value.startswith("#/$defs/"):
                    value = "#/components/schemas/" + defs_prefix + value[len("#/$defs/"):]
                elif value.startswith("urn:palimpsest:schema:"):
                    target, _, pointer = value[len("urn:palimpsest:schema:"):].partition("#")
                    value = "#/components/schemas/" + target + pointer
            out[key] = rewrite(value, name, defs_prefix)
        return out
    if isinstance(node, list):
        return [rewrite(v, name, defs_prefix) for v in node]
    return node


def load_components():
    components = {}
    for file_name in sorted(os.listdir(SCHEMAS)):
        if not file_name.endswith(".schema.json"):
            continue
        name = component_name(file_name)
        with open(os.path.join(SCHEMAS, file_name)) as f:
            schema = json.load(f)
        prefix = name + "-"
        for def_name, definition in schema.pop("$defs", {}).items():
            components[prefix + def_name] = rewrite(definition, name, prefix)
        components[name] = rewrite(schema, name, prefix)
    components["error"] = {
        "type": "object",
        "required": ["error", "code", "status"],
        "additionalProperties": False,
        "properties": {
            "error": {"type": "string", "description": "One sentence, as the CLI prints it."},
            "code": {"type": "integer", "description": "The CLI's exit code for the same failure (DESIGN.md §7)."},
            "status": {"type": "integer", "description": "The HTTP status."},
        },
    }
    return components


def param(name, where, description, schema=None, required=False):
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema or {"type": "string"}}


DOC = param("document", "path", "The document ID as one percent-encoded path segment (/ as %2F).", {"type": "string", "minLength": 1})
# Counts are 64-bit: larger numbers are refused (400) as not numbers.
INT64 = 9223372036854775807
VERSION = param("version", "path", "A version number, from 1.", {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64})
POSITION = param("position", "path", "A log position, from 1.", {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64})
TIME = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?"
SPEC = {"type": "string", "pattern": "^(#?[1-9][0-9]{0,17}|@" + TIME + ")$",
        "description": "A version (3, or #3) or @ and an ISO 8601 time with a zone (@2023-12-28T20:00:00Z, or a date alone)."}


def ok(schema, description="The answer, as the CLI's --json prints it."):
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/" + schema}}}}



def errors(*codes):
    text = {"400": "Invalid input (exit code 2).", "404": "Not found (exit code 1).", "409": "Conflict (exit code 3).",
            "401": "No bearer token.", "403": "A wrong bearer token.", "405": "The server is read-only.",
            "413": "The body is too large.", "503": "Storage error (exit code 5)."}
    return {c: {"description": text[c], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}}} for c in codes}


def number(minimum=1):
    return {"type": "integer", "format": "int64", "minimum": minimum, "maximum": INT64}


def time():
    return {"type": "string", "pattern": "^" + TIME + "$", "description": "An ISO 8601 time with a zone, or a date alone."}


def get(summary, schema, parameters=(), codes=("400", "404")):
    return {"get": {"summary": summary, "parameters": list(parameters), "responses": {"200": ok(schema), **errors(*codes)}}}


PHRASE = [param("phrase", "query", "The phrase.", {"type": "string", "pattern": "[^ \\t\\n]", "description": "Words and punctuation; at least one that is not white space."}, required=True),
          param("doc", "query", "Only this document."),
          param("ignoreCase", "query", "Fold case when matching.", {"type": "string", "enum": ["true", "false"]}),
          param("since", "query", "Only changes in effect at or after this time (ISO 8601).", time()),
          param("until", "query", "Only changes in effect at or before this time (ISO 8601).", time()),
          param("limit", "query", "At most this many changes; the answer names the next cursor.", number()),
          param("after", "query", "Start after this cursor.", number(0))]


def document():
    return {
        "openapi": "3.1.0",
        "info": {"title": "Palimpsest", "version": "1",
                 "description": "The reading commands of an event-sourced ledger of document edits, over HTTP. Every answer is what the command's --json prints; errors carry the CLI's sentence and exit code."},
        "paths": {
            "/api/v1/documents": get("The catalogue (docs --json).", "docs-output", codes=()),
            "/api/v1/documents/{document}": get("One document's summary (an element of docs --json).", "docs-output/properties/documents/items", [DOC]),
            "/api/v1/documents/{document}/versions/{version}": get("A version with its text (show --version N --json).", "show-output", [DOC, VERSION]),
            "/api/v1/documents/{document}/diff": get("What changed between two versions (diff --json).", "diff-output",
                                                     [DOC, param("from", "query", "The older version, N or @TIME.", SPEC), param("to", "query", "The newer version, N or @TIME.", SPEC)]),
            "/api/v1/documents/{document}/blame": get("Who wrote each word (blame --json, or --json --runs with runs=true).", "blame-output",
                                                      [DOC, param("version", "query", "The version (default: the latest).", number()),
                                                       param("runs", "query", "Runs of words with the same origin.", {"type": "string", "enum": ["true", "false"]})]),
            "/api/v1/compare": get("Two documents side by side (compare --json).", "compare-output",
                                   [param("a", "query", "DOC, DOC@TIME or DOC#VERSION.", {"type": "string", "minLength": 1}, True),
                                    param("b", "query", "DOC, DOC@TIME or DOC#VERSION.", {"type": "string", "minLength": 1}, True)]),
            "/api/v1/removed": get("Every event that removed a phrase (removed --json).", "removed-output", PHRASE),
            "/api/v1/trace": get("Every event that added or removed a phrase (trace --json).", "trace-output", PHRASE),
            "/api/v1/log": get("Events in ledger order, a page at a time (log --json, with the cursor next).", "log-output",
                               [param("document", "query", "Only this document's events."), param("actor", "query", "Only this actor's events."),
                                param("since", "query", "Only events in effect at or after this time.", time()),
                                param("until", "query", "Only events in effect at or before this time.", time()),
                                param("after", "query", "Start after this position (the previous page's next).", number(0)),
                                param("limit", "query", "At most this many events (default 100).", number())]),
            "/api/v1/stats": get("Figures (stats --json).", "stats-output", [param("limit", "query", "At most this many actors.", number(0))], codes=("400",)),
            "/api/v1/checkpoints": get("The signed checkpoints (checkpoint --list --json).", "checkpoint-output", codes=("404",)),
            "/api/v1/proofs/inclusion": get("An event's inclusion proof in a checkpoint (prove --json).", "prove-output",
                                            [param("position", "query", "The event's position.", number(), True),
                                             param("checkpoint", "query", "The checkpoint (default: the latest that covers it).", number())]),
            "/api/v1/proofs/consistency": get("A consistency proof between two checkpoints (prove --consistency --json).", "prove-output",
                                              [param("old", "query", "The older checkpoint number.", number(), True),
                                               param("new", "query", "The newer checkpoint number.", number(), True)]),
            "/api/v1/events/{position}": get("One event, as export writes it.", "event", [POSITION]),
            "/api/v1/reports/{document}": get("An audit report of a document's life (report --format json), whole or scoped.", "report", [
                DOC, param("since", "query", "Only changes from this time on (ISO 8601); the version in force before it is quoted as the base.", time()),
                param("until", "query", "Only changes up to this time (ISO 8601).", time()),
                param("fromVersion", "query", "Only the changes that made versions fromVersion to toVersion.", number()),
                param("toVersion", "query", "With fromVersion: the last version shown.", number())], codes=("400", "404", "503")),
            "/api/v1/events": {"post": {
                "summary": "Record events: one import line (the import format) per line of the body. Needs --allow-writes and the bearer token.",
                "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {"type": "string"}}, "application/json": {"schema": {"$ref": "#/components/schemas/import-line"}}}},
                "responses": {"200": {"description": "Every event was already recorded (idempotent by event ID)."},
                              "201": {"description": "Recorded."}, **errors("400", "401", "403", "404", "405", "409", "413")}}},
            "/api/v1/cosignatures": {"post": {
                "summary": "Store witnesses' cosignatures (c2sp.org/tlog-cosignature) of a checkpoint note. Needs --allow-writes and the bearer token.",
                "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}},
                "responses": {"200": {"description": "Stored."}, **errors("400", "401", "403", "404", "405", "413")}}},
        },
        "components": {"schemas": load_components(), "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def main():
    text = json.dumps(document(), indent=1, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as f:
            if f.read() != text:
                print("openapi.json is out of date: run python3 tools/make-openapi.py", file=sys.stderr)
                sys.exit(1)
        return
    with open(OUT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
