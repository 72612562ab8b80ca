// Command lrs-forwarder sends the tenants' statements on to other LRSs and
// webhooks by their forwarding rules (docs/forwarding.md); run several to
// share the topic's partitions.
package main

import "github.com/streamlrs/streamlrs/pkg/service"

func main() { service.Main(service.RunForwarder) }
