// Package deploy holds the files that run a herd outside a developer's
// shell: a Dockerfile (static binary, distroless, non-root), a systemd unit
// template (one node per instance, hardened), and Kubernetes manifests for a
// five-node herd (k8s/herd.yaml). It has no Go code of its own; its tests
// check that the manifests parse and agree with the herd config they carry.
package deploy
