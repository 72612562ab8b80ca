// Package stream is the Kafka plumbing shared by the services: the record
// format on the statements topic, topic creation, the producer ingest uses,
// the consumer-group loop both writers use, the dead-letter topic, and the
// embedded broker of the single-binary mode.
//
// One Kafka record carries every statement of one accepted request (a
// Batch). A batch POST is therefore published atomically: either the whole
// request is in the topic or none of it is, so a consumer never sees half a
// batch even if the producer fails midway.
package stream
