// Package deploy holds the files that run a herd outside a developer's
// shell: a Dockerfile (static binary, distroless, non-root), a systemd unit
// template (one node per instance, hardened), Kubernetes manifests for a
// five-node herd (k8s/herd.yaml), and its monitoring: Prometheus alert and
// recording rules with their promtool unit tests and a ServiceMonitor
// (prometheus/), and a Grafana dashboard (grafana/herd.json). It has no Go
// code of its own; its tests check that the manifests parse and agree with
// the herd config they carry, that every metric the rules and the
// dashboard read is one a node exports, and that a real Prometheus scrapes
// a herd with the rules loaded.
package deploy
