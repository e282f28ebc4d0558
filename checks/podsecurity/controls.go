package podsecurity

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/policy"
	"k8s.io/utils/ptr"
)

// about is what alertmend adds to one of the evaluator's checks: the standard's name for the
// control, and how to find and change the fields it judges.
type about struct {
	name string
	// fix changes the template so that the control allows it, and returns the fields it
	// changed. Whether a value is allowed (a capability, a sysctl, an SELinux type) is asked of
	// the control itself, at the version judged, through the fixer: no list of allowed values
	// is written here.
	fix func(f fixer) []field
}

func aboutControl(id policy.CheckID) about {
	switch id {
	case "windowsHostProcess":
		return about{"HostProcess", fixHostProcess}
	case "hostNamespaces":
		return about{"Host Namespaces", fixHostNamespaces}
	case "privileged":
		return about{"Privileged Containers", fixPrivileged}
	case "capabilities_baseline":
		return about{"Capabilities", fixCapabilitiesBaseline}
	case "hostPathVolumes":
		return about{"HostPath Volumes", fixVolumes}
	case "hostPorts":
		return about{"Host Ports", fixHostPorts}
	case "hostProbesAndHostLifecycle":
		return about{"Host Probes / Lifecycle Hooks", fixProbeHosts}
	case "appArmorProfile":
		return about{"AppArmor", fixAppArmor}
	case "seLinuxOptions":
		return about{"SELinux", fixSELinux}
	case "procMount", "procMount_restricted":
		return about{"/proc Mount Type", fixProcMount}
	case "seccompProfile_baseline":
		return about{"Seccomp", fixSeccompBaseline}
	case "sysctls":
		return about{"Sysctls", fixSysctls}
	case "restrictedVolumes":
		return about{"Volume Types", fixVolumes}
	case "allowPrivilegeEscalation":
		return about{"Privilege Escalation", fixPrivilegeEscalation}
	case "runAsNonRoot":
		return about{"Running as Non-root", fixRunAsNonRoot}
	case "runAsUser":
		return about{"Running as Non-root user", fixRunAsUser}
	case "seccompProfile_restricted":
		return about{"Seccomp", fixSeccompRestricted}
	case "capabilities_restricted":
		return about{"Capabilities", fixCapabilitiesRestricted}
	}
	// A check newer than this code: its verdict and message still count, without field paths
	// or a patch.
	return about{name: string(id)}
}

// fixer is a template being repaired for one control, and that control's judgement of probes.
type fixer struct {
	t      template
	allows func(template) bool
}

// container is one container of the template with its path in the pod.
type container struct {
	path string
	c    *corev1.Container
}

// containers lists the containers the evaluator visits, in its order.
func (f fixer) containers() []container {
	spec := f.t.spec
	var out []container
	for i := range spec.InitContainers {
		out = append(out, container{fmt.Sprintf("spec.initContainers[%s]", spec.InitContainers[i].Name), &spec.InitContainers[i]})
	}
	for i := range spec.Containers {
		out = append(out, container{fmt.Sprintf("spec.containers[%s]", spec.Containers[i].Name), &spec.Containers[i]})
	}
	for i := range spec.EphemeralContainers {
		common := &spec.EphemeralContainers[i].EphemeralContainerCommon
		out = append(out, container{fmt.Sprintf("spec.ephemeralContainers[%s]", common.Name), (*corev1.Container)(common)})
	}
	return out
}

// probe is a pod with the template's pod-wide context (its OS, its user namespace), which
// some checks relax for, and nothing else.
func (f fixer) probe() *corev1.PodSpec {
	return &corev1.PodSpec{OS: f.t.spec.OS, HostUsers: f.t.spec.HostUsers}
}

func (f fixer) allowsSpec(spec *corev1.PodSpec) bool {
	return f.allows(template{meta: &metav1.ObjectMeta{}, spec: spec})
}

// allowsContainer asks whether a pod of c alone (with sc at pod level, if any) is allowed.
func (f fixer) allowsContainer(sc *corev1.PodSecurityContext, c corev1.Container) bool {
	spec := f.probe()
	spec.SecurityContext = sc
	spec.Containers = []corev1.Container{c}
	return f.allowsSpec(spec)
}

func (f fixer) allowsPod(sc *corev1.PodSecurityContext) bool {
	spec := f.probe()
	spec.SecurityContext = sc
	return f.allowsSpec(spec)
}

func containerWith(name string, sc *corev1.SecurityContext) corev1.Container {
	return corev1.Container{Name: name, SecurityContext: sc}
}

func podSecurityContext(spec *corev1.PodSpec) *corev1.PodSecurityContext {
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	return spec.SecurityContext
}

func securityContext(c *corev1.Container) *corev1.SecurityContext {
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.SecurityContext{}
	}
	return c.SecurityContext
}

func isTrue(b *bool) bool { return b != nil && *b }

func fixHostProcess(f fixer) []field {
	var out []field
	if sc := f.t.spec.SecurityContext; sc != nil && sc.WindowsOptions != nil && isTrue(sc.WindowsOptions.HostProcess) {
		out = append(out, field{"spec.securityContext.windowsOptions.hostProcess", "=true"})
		sc.WindowsOptions.HostProcess = ptr.To(false)
	}
	for _, c := range f.containers() {
		if sc := c.c.SecurityContext; sc != nil && sc.WindowsOptions != nil && isTrue(sc.WindowsOptions.HostProcess) {
			out = append(out, field{c.path + ".securityContext.windowsOptions.hostProcess", "=true"})
			sc.WindowsOptions.HostProcess = ptr.To(false)
		}
	}
	return out
}

func fixHostNamespaces(f fixer) []field {
	var out []field
	for _, ns := range []struct {
		name string
		on   *bool
	}{{"hostNetwork", &f.t.spec.HostNetwork}, {"hostPID", &f.t.spec.HostPID}, {"hostIPC", &f.t.spec.HostIPC}} {
		if *ns.on {
			out = append(out, field{"spec." + ns.name, "=true"})
			*ns.on = false
		}
	}
	return out
}

func fixPrivileged(f fixer) []field {
	var out []field
	for _, c := range f.containers() {
		if sc := c.c.SecurityContext; sc != nil && isTrue(sc.Privileged) {
			out = append(out, field{c.path + ".securityContext.privileged", "=true"})
			sc.Privileged = ptr.To(false)
		}
	}
	return out
}

// fixAddedCapabilities removes the capabilities a container adds that the control refuses when
// added alone (beside drop, which the restricted control also asks for).
func fixAddedCapabilities(f fixer, c container, drop []corev1.Capability) []field {
	sc := c.c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		return nil
	}
	var out []field
	var kept []corev1.Capability
	for _, capability := range sc.Capabilities.Add {
		probe := containerWith(c.c.Name, &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{capability}, Drop: drop}})
		if f.allowsContainer(nil, probe) {
			kept = append(kept, capability)
			continue
		}
		out = append(out, field{c.path + ".securityContext.capabilities.add", " has " + string(capability)})
	}
	sc.Capabilities.Add = kept
	return out
}

func fixCapabilitiesBaseline(f fixer) []field {
	var out []field
	for _, c := range f.containers() {
		out = append(out, fixAddedCapabilities(f, c, nil)...)
	}
	return out
}

func fixCapabilitiesRestricted(f fixer) []field {
	var out []field
	all := []corev1.Capability{"ALL"}
	for _, c := range f.containers() {
		var drop []corev1.Capability
		if sc := c.c.SecurityContext; sc != nil && sc.Capabilities != nil {
			drop = sc.Capabilities.Drop
		}
		if !f.allowsContainer(nil, containerWith(c.c.Name, &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: drop}})) {
			out = append(out, field{c.path + ".securityContext.capabilities.drop", " lacks ALL"})
			sc := securityContext(c.c)
			if sc.Capabilities == nil {
				sc.Capabilities = &corev1.Capabilities{}
			}
			sc.Capabilities.Drop = append(sc.Capabilities.Drop, all...)
		}
		out = append(out, fixAddedCapabilities(f, c, all)...)
	}
	return out
}

// fixVolumes replaces each volume the control refuses with a PersistentVolumeClaim whose name is a
// placeholder: what the pod read from the node or the network must come from somewhere, and an
// unfilled claim name fails loudly where an emptyDir would lose the data quietly.
func fixVolumes(f fixer) []field {
	var out []field
	for i := range f.t.spec.Volumes {
		vol := &f.t.spec.Volumes[i]
		probe := f.probe()
		probe.Volumes = []corev1.Volume{*vol}
		if f.allowsSpec(probe) {
			continue
		}
		out = append(out, volumeField(vol))
		vol.VolumeSource = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimPlaceholder(vol.Name)}}
	}
	return out
}

// volumeField names a volume by its source's field (hostPath, nfs, ...), with a host path's path.
func volumeField(vol *corev1.Volume) field {
	kind := "unknown"
	if data, err := json.Marshal(vol.VolumeSource); err == nil {
		var sources map[string]json.RawMessage
		if json.Unmarshal(data, &sources) == nil && len(sources) > 0 {
			kind = slices.Sorted(maps.Keys(sources))[0]
		}
	}
	state := ""
	if vol.HostPath != nil {
		state = "=" + vol.HostPath.Path
	}
	return field{fmt.Sprintf("spec.volumes[%s].%s", vol.Name, kind), state}
}

// claimPlaceholder is an UPPER_CASE name for the claim to create: the API server refuses it as
// it stands, so a patch pasted unread changes nothing.
func claimPlaceholder(volume string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(volume)) + "_CLAIM"
}

func fixHostPorts(f fixer) []field {
	var out []field
	for _, c := range f.containers() {
		for i := range c.c.Ports {
			port := &c.c.Ports[i]
			if port.HostPort == 0 || f.allowsContainer(nil, corev1.Container{Name: c.c.Name, Ports: []corev1.ContainerPort{*port}}) {
				continue
			}
			out = append(out, field{fmt.Sprintf("%s.ports[%d].hostPort", c.path, i), "=" + strconv.Itoa(int(port.HostPort))})
			port.HostPort = 0
		}
	}
	return out
}

func fixProbeHosts(f fixer) []field {
	var out []field
	clearHost := func(path string, host *string) {
		if *host != "" {
			out = append(out, field{path, "=" + *host})
			*host = ""
		}
	}
	handler := func(path string, http *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction) {
		if http != nil {
			clearHost(path+".httpGet.host", &http.Host)
		}
		if tcp != nil {
			clearHost(path+".tcpSocket.host", &tcp.Host)
		}
	}
	for _, c := range f.containers() {
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
		}{{"livenessProbe", c.c.LivenessProbe}, {"readinessProbe", c.c.ReadinessProbe}, {"startupProbe", c.c.StartupProbe}} {
			if p.probe != nil {
				handler(c.path+"."+p.name, p.probe.HTTPGet, p.probe.TCPSocket)
			}
		}
		if lc := c.c.Lifecycle; lc != nil {
			for _, h := range []struct {
				name    string
				handler *corev1.LifecycleHandler
			}{{"postStart", lc.PostStart}, {"preStop", lc.PreStop}} {
				if h.handler != nil {
					handler(c.path+".lifecycle."+h.name, h.handler.HTTPGet, h.handler.TCPSocket)
				}
			}
		}
	}
	return out
}

// fixAnnotations sets to runtime/default each annotation the control refuses, judged beside the
// template's containers (per-container annotations name one): the AppArmor annotations, and the
// seccomp ones of policy versions before v1.19.
func fixAnnotations(f fixer) []field {
	bare := f.probe()
	for _, c := range f.containers() {
		bare.Containers = append(bare.Containers, corev1.Container{Name: c.c.Name})
	}
	var out []field
	for _, key := range slices.Sorted(maps.Keys(f.t.meta.Annotations)) {
		value := f.t.meta.Annotations[key]
		if f.allows(template{meta: &metav1.ObjectMeta{Annotations: map[string]string{key: value}}, spec: bare}) {
			continue
		}
		out = append(out, field{fmt.Sprintf("metadata.annotations[%s]", key), "=" + strconv.Quote(value)})
		f.t.meta.Annotations[key] = "runtime/default"
	}
	return out
}

func fixAppArmor(f fixer) []field {
	var out []field
	runtimeDefault := &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
	if sc := f.t.spec.SecurityContext; sc != nil && sc.AppArmorProfile != nil && !f.allowsPod(&corev1.PodSecurityContext{AppArmorProfile: sc.AppArmorProfile}) {
		out = append(out, field{"spec.securityContext.appArmorProfile.type", "=" + string(sc.AppArmorProfile.Type)})
		sc.AppArmorProfile = runtimeDefault.DeepCopy()
	}
	for _, c := range f.containers() {
		sc := c.c.SecurityContext
		if sc == nil || sc.AppArmorProfile == nil || f.allowsContainer(nil, containerWith(c.c.Name, &corev1.SecurityContext{AppArmorProfile: sc.AppArmorProfile})) {
			continue
		}
		out = append(out, field{c.path + ".securityContext.appArmorProfile.type", "=" + string(sc.AppArmorProfile.Type)})
		sc.AppArmorProfile = runtimeDefault.DeepCopy()
	}
	return append(out, fixAnnotations(f)...)
}

// fixSELinuxOptions clears each attribute of opts the control refuses on its own.
func fixSELinuxOptions(path string, opts *corev1.SELinuxOptions, allows func(*corev1.SELinuxOptions) bool) []field {
	var out []field
	for _, attr := range []struct {
		name  string
		value *string
		probe corev1.SELinuxOptions
	}{
		{"type", &opts.Type, corev1.SELinuxOptions{Type: opts.Type}},
		{"user", &opts.User, corev1.SELinuxOptions{User: opts.User}},
		{"role", &opts.Role, corev1.SELinuxOptions{Role: opts.Role}},
	} {
		if *attr.value != "" && !allows(&attr.probe) {
			out = append(out, field{path + ".seLinuxOptions." + attr.name, "=" + *attr.value})
			*attr.value = ""
		}
	}
	return out
}

func fixSELinux(f fixer) []field {
	var out []field
	if sc := f.t.spec.SecurityContext; sc != nil && sc.SELinuxOptions != nil {
		out = append(out, fixSELinuxOptions("spec.securityContext", sc.SELinuxOptions, func(o *corev1.SELinuxOptions) bool {
			return f.allowsPod(&corev1.PodSecurityContext{SELinuxOptions: o})
		})...)
	}
	for _, c := range f.containers() {
		if sc := c.c.SecurityContext; sc != nil && sc.SELinuxOptions != nil {
			out = append(out, fixSELinuxOptions(c.path+".securityContext", sc.SELinuxOptions, func(o *corev1.SELinuxOptions) bool {
				return f.allowsContainer(nil, containerWith(c.c.Name, &corev1.SecurityContext{SELinuxOptions: o}))
			})...)
		}
	}
	return out
}

func fixProcMount(f fixer) []field {
	var out []field
	for _, c := range f.containers() {
		sc := c.c.SecurityContext
		if sc == nil || sc.ProcMount == nil || f.allowsContainer(nil, containerWith(c.c.Name, &corev1.SecurityContext{ProcMount: sc.ProcMount})) {
			continue
		}
		out = append(out, field{c.path + ".securityContext.procMount", "=" + string(*sc.ProcMount)})
		sc.ProcMount = ptr.To(corev1.DefaultProcMount)
	}
	return out
}

func runtimeDefaultSeccomp() *corev1.SeccompProfile {
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
}

// fixSeccompProfiles sets RuntimeDefault where the pod or a container names a profile the
// control refuses, and returns whether the pod's own profile is then one it allows.
func fixSeccompProfiles(f fixer) ([]field, bool) {
	var out []field
	podSet := false
	if sc := f.t.spec.SecurityContext; sc != nil && sc.SeccompProfile != nil {
		podSet = true
		// With a container beside it, a restricted check asks the pod's profile to cover it.
		if !f.allowsContainer(&corev1.PodSecurityContext{SeccompProfile: sc.SeccompProfile}, corev1.Container{Name: "probe"}) {
			out = append(out, field{"spec.securityContext.seccompProfile.type", "=" + string(sc.SeccompProfile.Type)})
			sc.SeccompProfile = runtimeDefaultSeccomp()
		}
	}
	for _, c := range f.containers() {
		sc := c.c.SecurityContext
		if sc == nil || sc.SeccompProfile == nil ||
			f.allowsContainer(&corev1.PodSecurityContext{SeccompProfile: runtimeDefaultSeccomp()}, containerWith(c.c.Name, &corev1.SecurityContext{SeccompProfile: sc.SeccompProfile})) {
			continue
		}
		out = append(out, field{c.path + ".securityContext.seccompProfile.type", "=" + string(sc.SeccompProfile.Type)})
		sc.SeccompProfile = runtimeDefaultSeccomp()
	}
	return out, podSet
}

func fixSeccompBaseline(f fixer) []field {
	out, _ := fixSeccompProfiles(f)
	return append(out, fixAnnotations(f)...)
}

// unsetIn names the containers that leave a setting to the pod, for a pod that does not set it.
func unsetIn(path string, containers []string) field {
	return field{path, fmt.Sprintf(" unset, and not set by %s %s", pluralWord(len(containers), "container", "containers"), strings.Join(containers, ", "))}
}

func fixSeccompRestricted(f fixer) []field {
	out, podSet := fixSeccompProfiles(f)
	if podSet {
		return out
	}
	var unset []string
	for _, c := range f.containers() {
		if c.c.SecurityContext == nil || c.c.SecurityContext.SeccompProfile == nil {
			unset = append(unset, c.c.Name)
		}
	}
	if len(unset) > 0 {
		out = append(out, unsetIn("spec.securityContext.seccompProfile.type", unset))
		podSecurityContext(f.t.spec).SeccompProfile = runtimeDefaultSeccomp()
	}
	return out
}

func fixSysctls(f fixer) []field {
	sc := f.t.spec.SecurityContext
	if sc == nil {
		return nil
	}
	var out []field
	var kept []corev1.Sysctl
	for _, s := range sc.Sysctls {
		if f.allowsPod(&corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{s}}) {
			kept = append(kept, s)
			continue
		}
		out = append(out, field{fmt.Sprintf("spec.securityContext.sysctls[%s]", s.Name), "=" + s.Value})
	}
	sc.Sysctls = kept
	return out
}

func fixPrivilegeEscalation(f fixer) []field {
	var out []field
	for _, c := range f.containers() {
		var current *bool
		if c.c.SecurityContext != nil {
			current = c.c.SecurityContext.AllowPrivilegeEscalation
		}
		if f.allowsContainer(nil, containerWith(c.c.Name, &corev1.SecurityContext{AllowPrivilegeEscalation: current})) {
			continue
		}
		state := " unset"
		if current != nil {
			state = "=" + strconv.FormatBool(*current)
		}
		out = append(out, field{c.path + ".securityContext.allowPrivilegeEscalation", state})
		securityContext(c.c).AllowPrivilegeEscalation = ptr.To(false)
	}
	return out
}

func fixRunAsNonRoot(f fixer) []field {
	var out []field
	sc := f.t.spec.SecurityContext
	podSet := sc != nil && sc.RunAsNonRoot != nil
	if podSet && !*sc.RunAsNonRoot {
		out = append(out, field{"spec.securityContext.runAsNonRoot", "=false"})
		sc.RunAsNonRoot = ptr.To(true)
	}
	var unset []string
	for _, c := range f.containers() {
		csc := c.c.SecurityContext
		switch {
		case csc == nil || csc.RunAsNonRoot == nil:
			unset = append(unset, c.c.Name)
		case !*csc.RunAsNonRoot:
			out = append(out, field{c.path + ".securityContext.runAsNonRoot", "=false"})
			csc.RunAsNonRoot = ptr.To(true)
		}
	}
	if !podSet && len(unset) > 0 {
		out = append(out, unsetIn("spec.securityContext.runAsNonRoot", unset))
		podSecurityContext(f.t.spec).RunAsNonRoot = ptr.To(true)
	}
	return out
}

func fixRunAsUser(f fixer) []field {
	var out []field
	if sc := f.t.spec.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		out = append(out, field{"spec.securityContext.runAsUser", "=0"})
		sc.RunAsUser = nil
	}
	for _, c := range f.containers() {
		if sc := c.c.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			out = append(out, field{c.path + ".securityContext.runAsUser", "=0"})
			sc.RunAsUser = nil
		}
	}
	return out
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
