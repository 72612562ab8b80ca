// Package clickhouse holds the versioned ClickHouse migrations of the
// analytics schema. pkg/analytics applies them in file-name order.
package clickhouse

import "embed"

// Migrations holds the NNNN_name.sql files.
//
//go:embed *.sql
var Migrations embed.FS
