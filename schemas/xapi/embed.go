// Package xapi holds the JSON Schemas (draft 2020-12) of xAPI statements as
// this LRS accepts them, one set per xAPI version: 1.0.3/ and 2.0.0/, each
// with statement.schema.json (one statement) and statements.schema.json
// (a request body: one statement or a non-empty array). They are the
// published contract; pkg/xapi validates the same rules on the hot path
// and its tests check both agree. README.md lists the few rules JSON
// Schema cannot state.
package xapi

import "embed"

// Schemas holds 1.0.3/*.schema.json and 2.0.0/*.schema.json.
//
//go:embed 1.0.3/*.json 2.0.0/*.json
var Schemas embed.FS
