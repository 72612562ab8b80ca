// Command lrs-analytics-writer consumes the statements topic into ClickHouse.
package main

import "github.com/streamlrs/streamlrs/pkg/service"

func main() { service.Main(service.RunAnalyticsWriter) }
