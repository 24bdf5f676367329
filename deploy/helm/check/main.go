// Command check is the CI check of the Helm chart deploy/helm/auditstream, with Helm's
// own Go packages (helm.sh/helm/v4, pinned in go.mod): what `helm lint --strict` and
// `helm template` do, with the default values and with every values file under the
// chart's ci/ (ci/all-on-values.yaml turns on every optional object), then a schema
// check of every rendered object and the chart's promises.
//
//	cd deploy/helm/check && go run . ../auditstream
//
// Schema check: each object is decoded into its typed Go struct (k8s.io/api for the
// built-in kinds, the Prometheus Operator's monitoring/v1 types for ServiceMonitor and
// PrometheusRule) with strict decoding: an unknown or misspelt field, a duplicate key or
// a value of the wrong type is an error. Then: every role (poll, normalize, sink) is a
// Deployment running its subcommand with the configuration of the ConfigMap; pods and
// containers run as non-root with a read-only root filesystem; liveness probes /livez
// and readiness probes /readyz on the admin port; one PodDisruptionBudget per
// Deployment, selecting exactly its pods; ServiceMonitor and PrometheusRule only when
// turned on, and the rules the same as deploy/prometheus/alerts.yml.
//
// It is its own Go module so that the auditstream module does not depend on Helm.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const (
	releaseName = "auditstream"
	namespace   = "auditstream"
	configPath  = "/etc/auditstream/auditstream.yaml"
)

var roles = []string{"poll", "normalize", "sink"}

func main() {
	template := flag.String("template", "", "print the objects rendered with this values file (\"-\": the defaults), like helm template, and check nothing")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: check [-template VALUES|-] CHART_DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	// The chart's files/alerts.yml is a symbolic link to deploy/prometheus/alerts.yml, which
	// Helm's loader follows with an info log line: not a problem.
	slog.SetLogLoggerLevel(slog.LevelWarn)
	if *template != "" {
		if err := printTemplate(flag.Arg(0), *template); err != nil {
			fmt.Fprintln(os.Stderr, "helm check:", err)
			os.Exit(1)
		}
		return
	}
	problems, err := checkChart(flag.Arg(0), os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helm check:", err)
		os.Exit(1)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "helm check:", p)
		}
		fmt.Fprintf(os.Stderr, "helm check: %d problems\n", len(problems))
		os.Exit(1)
	}
}

func readValues(file string) (map[string]any, error) {
	vals := map[string]any{}
	if file == "" || file == "-" {
		return vals, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(b, &vals); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return vals, nil
}

func printTemplate(dir, valuesFile string) error {
	vals, err := readValues(valuesFile)
	if err != nil {
		return err
	}
	objs, err := render(dir, vals)
	if err != nil {
		return err
	}
	for _, o := range objs {
		fmt.Printf("---\n# Source: %s\n%s\n", o.Source, strings.TrimSpace(string(o.YAML)))
	}
	return nil
}

// checkChart lints, renders and checks the chart in dir with its default values and
// with each ci/*-values.yaml; it returns every problem found.
func checkChart(dir string, out io.Writer) ([]string, error) {
	valueFiles, err := filepath.Glob(filepath.Join(dir, "ci", "*-values.yaml"))
	if err != nil {
		return nil, err
	}
	sets := []string{""} // "": the chart's defaults
	sets = append(sets, valueFiles...)
	alerts := filepath.Join(dir, "..", "..", "prometheus", "alerts.yml")

	var problems []string
	for _, vf := range sets {
		name := "default values"
		if vf != "" {
			name = "values " + filepath.Base(vf)
		}
		vals, err := readValues(vf)
		if err != nil {
			return nil, err
		}
		var ps []string
		add := func(format string, a ...any) { ps = append(ps, name+": "+fmt.Sprintf(format, a...)) }

		// helm lint --strict: every message of severity warning or error is a problem.
		res := lint.RunAll(dir, vals, namespace)
		for _, m := range res.Messages {
			if m.Severity >= support.WarningSev {
				add("helm lint: %s", m.Error())
			} else {
				fmt.Fprintf(out, "helm check: %s: helm lint: %s\n", name, m.Error())
			}
		}

		// helm template.
		objs, err := render(dir, vals)
		if err != nil {
			add("helm template: %v", err)
			problems = append(problems, ps...)
			continue
		}
		checkObjects(objs, vf != "", alerts, add)
		problems = append(problems, ps...)
		if len(ps) == 0 {
			kinds := map[string]int{}
			for _, o := range objs {
				kinds[o.Kind]++
			}
			fmt.Fprintf(out, "helm check: %s: helm lint --strict clean, helm template: %d objects (%s), every one valid\n", name, len(objs), countList(kinds))
		}
	}
	return problems, nil
}

// object is one rendered Kubernetes object: its source template, kind and YAML.
type object struct {
	Source, Kind, Name string
	YAML               []byte
}

// render is `helm template` without a cluster: the chart's values coalesced with vals,
// the release options of an install, Helm's default capabilities, then every template
// rendered and split into objects (NOTES.txt and partials are not objects).
func render(dir string, vals map[string]any) ([]object, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	opts := common.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	rv, err := util.ToRenderValues(ch, vals, opts, common.DefaultCapabilities.Copy())
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, rv)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var objs []object
	for _, p := range paths {
		base := filepath.Base(p)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" || strings.TrimSpace(files[p]) == "" {
			continue
		}
		docs := releaseutil.SplitManifests(files[p])
		keys := make([]string, 0, len(docs))
		for k := range docs {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return manifestIndex(keys[i]) < manifestIndex(keys[j]) })
		for _, k := range keys {
			doc := docs[k]
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var tm metav1.TypeMeta
			var om struct {
				Metadata metav1.ObjectMeta `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			if err := yaml.Unmarshal([]byte(doc), &om); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			objs = append(objs, object{Source: p, Kind: tm.Kind, Name: om.Metadata.Name, YAML: []byte(doc)})
		}
	}
	return objs, nil
}

func manifestIndex(k string) int {
	var n int
	fmt.Sscanf(k, "manifest-%d", &n)
	return n
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// The types the chart may render, by apiVersion and kind.
var types = map[string]func() any{
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return &monv1.PrometheusRule{} },
}

var fileRef = regexp.MustCompile(`\$\{file:([^}]*)\}`)

// checkObjects decodes every object strictly into its type and checks what the chart
// promises; allOn is true for a values file that turns on every optional object.
func checkObjects(objs []object, allOn bool, alertsFile string, add func(string, ...any)) {
	var (
		deps    []*appsv1.Deployment
		pdbs    []*policyv1.PodDisruptionBudget
		svcs    []*corev1.Service
		cms     = map[string]*corev1.ConfigMap{}
		secrets = map[string]*corev1.Secret{}
		sms     []*monv1.ServiceMonitor
		rules   []*monv1.PrometheusRule
		seen    = map[string]bool{}
	)
	for _, o := range objs {
		var tm metav1.TypeMeta
		_ = yaml.Unmarshal(o.YAML, &tm)
		key := tm.APIVersion + "/" + tm.Kind
		newT, ok := types[key]
		if !ok {
			add("%s: %s %q: no schema known for apiVersion %q kind %q", o.Source, o.Kind, o.Name, tm.APIVersion, tm.Kind)
			continue
		}
		if seen[key+"/"+o.Name] {
			add("%s: %s %q rendered twice", o.Source, o.Kind, o.Name)
		}
		seen[key+"/"+o.Name] = true
		v := newT()
		if err := yaml.UnmarshalStrict(o.YAML, v); err != nil {
			add("%s: %s %q does not match its schema: %v", o.Source, o.Kind, o.Name, err)
			continue
		}
		if o.Name == "" {
			add("%s: %s without metadata.name", o.Source, o.Kind)
		}
		switch x := v.(type) {
		case *appsv1.Deployment:
			deps = append(deps, x)
		case *policyv1.PodDisruptionBudget:
			pdbs = append(pdbs, x)
		case *corev1.Service:
			svcs = append(svcs, x)
		case *corev1.ConfigMap:
			cms[x.Name] = x
		case *corev1.Secret:
			secrets[x.Name] = x
		case *monv1.ServiceMonitor:
			sms = append(sms, x)
		case *monv1.PrometheusRule:
			rules = append(rules, x)
		}
		if m, ok := v.(metav1.Object); ok && m.GetNamespace() != namespace {
			add("%s: %s %q: namespace %q, want the release's %q", o.Source, o.Kind, o.Name, m.GetNamespace(), namespace)
		}
	}

	// Every role runs, each Deployment its subcommand with the configuration.
	rolesSeen := map[string]bool{}
	for _, d := range deps {
		checkDeployment(d, cms, secrets, add)
		if c := d.Spec.Template.Spec.Containers; len(c) > 0 && len(c[0].Args) > 0 {
			rolesSeen[c[0].Args[0]] = true
		}
		// One PodDisruptionBudget selecting exactly this Deployment's pods.
		podLabels := labels.Set(d.Spec.Template.Labels)
		var mine []string
		for _, p := range pdbs {
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			if err != nil || sel.Empty() {
				add("PodDisruptionBudget %q: selector %v", p.Name, err)
				continue
			}
			if sel.Matches(podLabels) {
				mine = append(mine, p.Name)
			}
		}
		if len(mine) != 1 {
			add("Deployment %q: %d PodDisruptionBudgets select its pods (%v), want 1", d.Name, len(mine), mine)
		}
		// A Service of its admin port (what the ServiceMonitor scrapes).
		var svc int
		for _, s := range svcs {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
				svc++
				if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Name != "admin" || s.Spec.Ports[0].TargetPort.String() != "admin" {
					add("Service %q: want one port named admin to the container port admin", s.Name)
				}
				if !strings.HasPrefix(s.Labels["auditstream.io/job"], "auditstream") {
					add("Service %q: label auditstream.io/job %q, want auditstream-<role> (AuditstreamRoleDown selects job=~\"auditstream.*\")", s.Name, s.Labels["auditstream.io/job"])
				}
			}
		}
		if svc != 1 {
			add("Deployment %q: %d Services select its pods, want 1", d.Name, svc)
		}
	}
	for _, r := range roles {
		if !rolesSeen[r] {
			add("no Deployment runs the role %q", r)
		}
	}
	if len(pdbs) != len(deps) {
		add("%d PodDisruptionBudgets for %d Deployments", len(pdbs), len(deps))
	}

	// Optional objects: off by default, on in the all-on values.
	want := 0
	if allOn {
		want = 1
	}
	if len(sms) != want {
		add("%d ServiceMonitors, want %d", len(sms), want)
	}
	if len(rules) != want {
		add("%d PrometheusRules, want %d", len(rules), want)
	}
	for _, sm := range sms {
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil {
			add("ServiceMonitor %q: selector: %v", sm.Name, err)
			continue
		}
		n := 0
		for _, s := range svcs {
			if sel.Matches(labels.Set(s.Labels)) {
				n++
			}
		}
		if n != len(svcs) || n == 0 {
			add("ServiceMonitor %q selects %d of the %d Services", sm.Name, n, len(svcs))
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "admin" || sm.Spec.Endpoints[0].Path != "/metrics" {
			add("ServiceMonitor %q: want one endpoint, port admin, path /metrics", sm.Name)
		}
		if sm.Spec.JobLabel != "auditstream.io/job" {
			add("ServiceMonitor %q: jobLabel %q, want auditstream.io/job", sm.Name, sm.Spec.JobLabel)
		}
	}
	for _, r := range rules {
		checkRules(r, alertsFile, add)
	}
}

func checkDeployment(d *appsv1.Deployment, cms map[string]*corev1.ConfigMap, secrets map[string]*corev1.Secret, add func(string, ...any)) {
	name := "Deployment " + d.Name
	ps := d.Spec.Template.Spec
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 1 {
		add("%s: replicas must be set and at least 1", name)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		add("%s: the selector does not select the pod template's labels (%v)", name, err)
	}
	psc := ps.SecurityContext
	podNonRoot := psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		add("%s: the pod's securityContext.runAsUser must be a non-zero UID", name)
	}
	if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
		add("%s: automountServiceAccountToken must be false (auditstream uses no Kubernetes API)", name)
	}
	if len(ps.Containers) != 1 {
		add("%s: %d containers, want 1", name, len(ps.Containers))
		return
	}
	c := ps.Containers[0]
	sc := c.SecurityContext
	if sc == nil {
		add("%s: container %s has no securityContext", name, c.Name)
		return
	}
	if !podNonRoot && (sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) {
		add("%s: runAsNonRoot is not true", name)
	}
	if sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot {
		add("%s: container %s: runAsNonRoot false", name, c.Name)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		add("%s: container %s: readOnlyRootFilesystem must be true", name, c.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		add("%s: container %s: allowPrivilegeEscalation must be false", name, c.Name)
	}
	if sc.Privileged != nil && *sc.Privileged {
		add("%s: container %s: privileged", name, c.Name)
	}
	if sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0 {
		add("%s: container %s: capabilities must drop ALL and add none", name, c.Name)
	}

	// The role's subcommand with the configuration file.
	if len(c.Args) < 3 || !contains(roles, c.Args[0]) || c.Args[1] != "--config" || c.Args[2] != configPath {
		add("%s: args %q, want <poll|normalize|sink> --config %s ...", name, c.Args, configPath)
	}

	// Probes on the admin port.
	var admin *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "admin" {
			admin = &c.Ports[i]
		}
	}
	if admin == nil {
		add("%s: no container port named admin", name)
	}
	probe := func(kind string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			add("%s: no HTTP %s probe", name, kind)
			return
		}
		if p.HTTPGet.Path != path {
			add("%s: %s probe on %q, want %s", name, kind, p.HTTPGet.Path, path)
		}
		if p.HTTPGet.Port.String() != "admin" && (admin == nil || p.HTTPGet.Port.IntValue() != int(admin.ContainerPort)) {
			add("%s: %s probe on port %s, want the admin port", name, kind, p.HTTPGet.Port.String())
		}
	}
	probe("liveness", c.LivenessProbe, "/livez")
	probe("readiness", c.ReadinessProbe, "/readyz")

	if c.Resources.Requests.Cpu().IsZero() && c.Resources.Requests.Memory().IsZero() {
		add("%s: no resource requests", name)
	}

	// The configuration: the ConfigMap's auditstream.yaml at configPath; the Secret's
	// keys at the mount path of every ${file:...} it references.
	vols := map[string]corev1.Volume{}
	for _, v := range ps.Volumes {
		vols[v.Name] = v
	}
	var cfg string
	mounts := map[string]corev1.Volume{}
	for _, m := range c.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			add("%s: volumeMount %q has no volume", name, m.Name)
			continue
		}
		mounts[m.MountPath] = v
		if v.ConfigMap != nil && filepath.Join(m.MountPath, "auditstream.yaml") == configPath {
			cm, ok := cms[v.ConfigMap.Name]
			if !ok {
				add("%s: ConfigMap %q is not rendered", name, v.ConfigMap.Name)
				continue
			}
			cfg, ok = cm.Data["auditstream.yaml"]
			if !ok {
				add("%s: ConfigMap %q has no key auditstream.yaml", name, cm.Name)
			}
		}
		if (v.Secret != nil || v.ConfigMap != nil) && !m.ReadOnly {
			add("%s: volumeMount %q must be readOnly", name, m.Name)
		}
	}
	if cfg == "" {
		add("%s: no configuration mounted at %s", name, configPath)
		return
	}
	var parsed map[string]any
	if err := yaml.Unmarshal([]byte(cfg), &parsed); err != nil {
		add("%s: the configuration is not YAML: %v", name, err)
	}
	for _, m := range fileRef.FindAllStringSubmatch(cfg, -1) {
		dir, key := filepath.Dir(m[1]), filepath.Base(m[1])
		v, ok := mounts[dir]
		if !ok || v.Secret == nil {
			add("%s: the configuration reads ${file:%s}, but no Secret is mounted at %s", name, m[1], dir)
			continue
		}
		if s, ok := secrets[v.Secret.SecretName]; ok {
			if _, ok := s.Data[key]; !ok && len(s.Data) > 0 {
				add("%s: the configuration reads ${file:%s}, but Secret %q has no key %q", name, m[1], s.Name, key)
			}
		}
	}
}

// checkRules compares the PrometheusRule's groups with deploy/prometheus/alerts.yml (the
// rules promtool checks and unit-tests in CI).
func checkRules(r *monv1.PrometheusRule, alertsFile string, add func(string, ...any)) {
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		add("PrometheusRule %q: %v", r.Name, err)
		return
	}
	var want struct {
		Groups []monv1.RuleGroup `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(b, &want); err != nil {
		add("%s does not match the PrometheusRule schema: %v", alertsFile, err)
		return
	}
	got, _ := yaml.Marshal(r.Spec.Groups)
	exp, _ := yaml.Marshal(want.Groups)
	if !bytes.Equal(got, exp) || len(want.Groups) == 0 {
		add("PrometheusRule %q: its groups differ from %s (the chart's files/alerts.yml must be a symbolic link to it): %s", r.Name, alertsFile, firstDiff(got, exp))
	}
	n := 0
	for _, g := range r.Spec.Groups {
		n += len(g.Rules)
	}
	if n == 0 {
		add("PrometheusRule %q has no rules", r.Name)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func countList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}

// firstDiff names the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d: rendered %q, file %q", i+1, a, b)
		}
	}
	return "no rules"
}
