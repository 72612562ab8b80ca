// Package store is the statement store: prepared xAPI statements, the
// consumer offsets applied with them, documents, attachments, tenants and
// credentials, with a PostgreSQL backend (production) and a SQLite backend
// (the embedded single-binary default). Each role is an interface of its
// own (StatementWriter, StatementReader, Documents, Credentials,
// Attachments) and Store composes them. Open picks a backend from a DSN;
// both pass the same suite (storetest).
//
// # Writes
//
// ApplyStatements writes one batch in one transaction together with the
// consumer offsets it covers, so the store is exactly-once with respect to
// the topic: after a crash the writer resumes from AppliedOffsets, and a
// record replayed anyway changes nothing (idempotent by tenant and id; the
// same id with another fingerprint is reported as a Conflict, not written).
// PostgreSQL takes a batch by COPY when all its ids are new and falls back
// to INSERT ... ON CONFLICT when one exists.
//
// # Voiding and StatementRefs in any order
//
// A statement whose object is a StatementRef makes sure a row for its
// target exists, inserting a placeholder (NULL body) if the target has not
// arrived, and a voiding statement marks that row voided. The target
// arriving later fills the placeholder and keeps the mark. Because a
// statement and every statement referring to it write the same (tenant,
// id) row, PostgreSQL's unique index orders concurrent writers: the later
// transaction waits for the earlier one and then sees its outcome, so
// partitions can be written in parallel.
//
// # Queries
//
// Every filterable value of a statement (its agents, activities, verb,
// registration; "direct" or only "related") is a row of statement_keys,
// keyed by a 128-bit digest of (tenant, key) and ordered by (stored, id).
// A filtered listing walks one digest's range in order and stops after a
// page, probing the other filters by primary key, so a page costs the same
// at any depth and any table size. A statement referring to another by
// StatementRef also carries the keys of its target chain (xAPI "Filter
// Conditions for StatementRefs"), added when either side arrives.
// Listings never return voided statements or placeholders. Paging is by
// keyset on (stored, id); see query.go for why that neither skips nor
// repeats while statements arrive.
package store
