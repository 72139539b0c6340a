// Package docs holds Herd's own documents: PROTOCOL.md (the wire
// protocol), OPERATIONS.md, SECURITY.md and ARCHITECTURE.md. It has no code;
// its test keeps the documents, README.md and BENCHMARKS.md honest: config
// examples parse with the real loader, every herd, herd-bench and make
// command they show exists with the flags they give it, relative links and
// their anchors resolve, and every test they name exists.
package docs
