// Command lrs-store-writer consumes the statements topic into the statement
// store (PostgreSQL or SQLite), exactly once.
package main

import "github.com/streamlrs/streamlrs/pkg/service"

func main() { service.Main(service.RunStoreWriter) }
