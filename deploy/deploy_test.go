package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/herdnet/herd/config"
)

type meta struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type configMap struct {
	Metadata meta              `yaml:"metadata"`
	Data     map[string]string `yaml:"data"`
}

type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort string `yaml:"targetPort"`
}

type service struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		ClusterIP                string            `yaml:"clusterIP"`
		PublishNotReadyAddresses bool              `yaml:"publishNotReadyAddresses"`
		Selector                 map[string]string `yaml:"selector"`
		Ports                    []servicePort     `yaml:"ports"`
	} `yaml:"spec"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			FieldRef struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe   *probe `yaml:"livenessProbe"`
	ReadinessProbe  *probe `yaml:"readinessProbe"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type statefulSet struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		ServiceName string `yaml:"serviceName"`
		Replicas    int    `yaml:"replicas"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata meta `yaml:"metadata"`
			Spec     struct {
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []container `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type pdb struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		MaxUnavailable int `yaml:"maxUnavailable"`
		Selector       struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
	} `yaml:"spec"`
}

// manifests decodes every document of a multi-document YAML file into a
// map first (for its kind), then into the struct of its kind.
func manifests(t *testing.T, path string) map[string][][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][][]byte{}
	dec := yaml.NewDecoder(bytes.NewReader(data), yaml.DisallowUnknownField())
	for i := 0; ; i++ {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		kind, _ := doc["kind"].(string)
		if kind == "" || doc["apiVersion"] == nil {
			t.Fatalf("%s: document %d has no kind or apiVersion", path, i)
		}
		raw, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		out[kind] = append(out[kind], raw)
	}
	return out
}

func decode[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func port(t *testing.T, hostPort string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostPort)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func sameLabels(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetesManifests checks that deploy/k8s/herd.yaml parses and that
// its parts agree: the StatefulSet runs one pod per node of the config it
// mounts, pod names are node names, neighbours are dialled at the headless
// Service's stable names, container ports are the config's ports, the probes
// hit the admin port, and every selector matches the pods.
func TestKubernetesManifests(t *testing.T) {
	docs := manifests(t, "k8s/herd.yaml")
	for _, kind := range []string{"ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget"} {
		if len(docs[kind]) == 0 {
			t.Fatalf("no %s in k8s/herd.yaml", kind)
		}
	}
	cm := decode[configMap](t, docs["ConfigMap"][0])
	cfg, err := config.Parse([]byte(cm.Data["herd.yaml"]))
	if err != nil {
		t.Fatalf("the ConfigMap's herd.yaml: %v", err)
	}
	ss := decode[statefulSet](t, docs["StatefulSet"][0])
	pod := ss.Spec.Template
	if ss.Spec.Replicas != len(cfg.Nodes) || len(cfg.Nodes) != 5 {
		t.Errorf("replicas %d, config nodes %d, want 5 and 5", ss.Spec.Replicas, len(cfg.Nodes))
	}
	if !sameLabels(ss.Spec.Selector.MatchLabels, pod.Metadata.Labels) {
		t.Errorf("StatefulSet selector %v does not match pod labels %v", ss.Spec.Selector.MatchLabels, pod.Metadata.Labels)
	}
	if !pod.Spec.SecurityContext.RunAsNonRoot {
		t.Error("pods must run as non-root")
	}

	var headless *service
	for _, raw := range docs["Service"] {
		s := decode[service](t, raw)
		if !sameLabels(s.Spec.Selector, pod.Metadata.Labels) {
			t.Errorf("Service %s selects %v, not the pods", s.Metadata.Name, s.Spec.Selector)
		}
		if s.Metadata.Name == ss.Spec.ServiceName {
			headless = &s
		}
	}
	if headless == nil || headless.Spec.ClusterIP != "None" || !headless.Spec.PublishNotReadyAddresses {
		t.Fatalf("the StatefulSet's service %q must be headless and publish not-ready pods", ss.Spec.ServiceName)
	}

	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, p := range headless.Spec.Ports {
		if _, ok := ports[p.TargetPort]; !ok || p.Port != ports[p.TargetPort] {
			t.Errorf("headless port %+v does not match the container's ports %v", p, ports)
		}
	}
	for i, n := range cfg.Nodes {
		if want := ss.Metadata.Name + "-" + strconv.Itoa(i); n.Name != want {
			t.Errorf("nodes[%d] is %q; the StatefulSet's pod %d is %q", i, n.Name, i, want)
		}
		if host, _, _ := net.SplitHostPort(n.Address); host != n.Name+"."+headless.Metadata.Name {
			t.Errorf("%s: address %q, want the headless name %s.%s", n.Name, n.Address, n.Name, headless.Metadata.Name)
		}
		if port(t, n.Listen) != ports["client"] || port(t, n.Address) != ports["client"] {
			t.Errorf("%s: listen %s / address %s, container client port %d", n.Name, n.Listen, n.Address, ports["client"])
		}
		if n.Admin == "" || port(t, n.Admin) != ports["admin"] {
			t.Errorf("%s: admin %q, container admin port %d", n.Name, n.Admin, ports["admin"])
		}
		if len(cfg.Neighbors(n.Name)) == 0 {
			t.Errorf("%s has no neighbours", n.Name)
		}
	}
	for name, pr := range map[string]*probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		want := map[string]string{"liveness": "/livez", "readiness": "/readyz"}[name]
		if pr == nil || pr.HTTPGet.Path != want || ports[pr.HTTPGet.Port] != ports["admin"] {
			t.Errorf("%s probe %+v: want GET %s on the admin port", name, pr, want)
		}
	}
	// The node name is the pod name; the config is the ConfigMap's.
	if len(c.Args) < 2 || c.Args[0] != "serve" || c.Args[1] != "$(POD_NAME)" {
		t.Errorf("args %q: want serve $(POD_NAME) ...", c.Args)
	}
	if len(c.Env) == 0 || c.Env[0].Name != "POD_NAME" || c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("POD_NAME must come from metadata.name: %+v", c.Env)
	}
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("args %q lack --config", c.Args)
	}
	mounted := false
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap.Name == cm.Metadata.Name && c.Args[i+1] == vm.MountPath+"/herd.yaml" {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("--config %s is not the ConfigMap %s's herd.yaml as mounted", c.Args[i+1], cm.Metadata.Name)
	}
	if sc := c.SecurityContext; sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem {
		t.Error("the container must not escalate privileges and must have a read-only root")
	}

	b := decode[pdb](t, docs["PodDisruptionBudget"][0])
	if !sameLabels(b.Spec.Selector.MatchLabels, pod.Metadata.Labels) || b.Spec.MaxUnavailable != 1 {
		t.Errorf("PodDisruptionBudget %+v", b.Spec)
	}
}

// TestDockerfileAndUnit checks the few facts docs/OPERATIONS.md promises about the
// Dockerfile and the systemd unit (Docker cannot run here, so the image
// itself is not built by the tests).
func TestDockerfileAndUnit(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	df := read("Dockerfile")
	def := config.Default().Nodes[0]
	for _, want := range []string{"AS build", "CGO_ENABLED=0", "FROM gcr.io/distroless/static", "USER 65532",
		"EXPOSE " + strconv.Itoa(port(t, def.Listen)) + " " + strconv.Itoa(port(t, def.Admin))} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	unit := read("herd@.service")
	for _, want := range []string{"Restart=on-failure", "LimitNOFILE=", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"DynamicUser=yes", "ExecStart=/usr/local/bin/herd serve %i --config /etc/herd/herd.yaml", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(unit, want) {
			t.Errorf("herd@.service lacks %q", want)
		}
	}
}
