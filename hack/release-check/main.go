// Command release-check proves, before a tag does, that a release would work:
//
//   - .goreleaser.yaml passes `goreleaser check`;
//   - goreleaser builds the release archives (a snapshot, into dist/): only this machine's
//     platform by default, every platform with -platforms all;
//   - .krew.yaml, rendered the way krew-release-bot renders it (the tag, and each archive's URL
//     and the sha256 of the archive just built), passes krew's own manifest validator and
//     names exactly the platforms goreleaser builds, at the URLs goreleaser publishes to;
//   - krew installs each built archive from that manifest, which checks the digest, the binary
//     `bin` names and the licence; on this machine's platform the installed plugin then runs,
//     and so does its completion script.
//
// Nothing is downloaded but Go modules: goreleaser, krew and the validator are built from the
// module proxy (hack/tools/goreleaser, hack/tools/krew) and krew installs from local files.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"text/template"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/alertmend/kubectl-alertmend/internal/testcluster"
)

// pluginName is the krew plugin's name; krew wants the manifest file named after it.
const pluginName = "alertmend"

func main() {
	platforms := flag.String("platforms", "host", "which archives to build and install: host (this machine's platform) or all")
	flag.Parse()
	if *platforms != "host" && *platforms != "all" {
		fmt.Fprintf(os.Stderr, "release-check: -platforms is host or all, not %q\n", *platforms)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stderr, *platforms == "all"); err != nil {
		fmt.Fprintln(os.Stderr, "release-check:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log io.Writer, allPlatforms bool) error {
	root := testcluster.RepoRoot()
	tools, err := testcluster.EnsureReleaseTools(ctx, log)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "alertmend-release-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	config, err := readGoreleaserConfig(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		return err
	}
	step(log, "goreleaser check")
	if err := runIn(ctx, root, nil, log, tools.Goreleaser, "check"); err != nil {
		return err
	}

	built := config.platforms()
	snapshotConfig := filepath.Join(root, ".goreleaser.yaml")
	if !allPlatforms {
		host := runtime.GOOS + "/" + runtime.GOARCH
		if !slices.Contains(built, host) {
			return fmt.Errorf("this machine's platform %s is not one goreleaser builds (%s); run with -platforms all", host, strings.Join(built, ", "))
		}
		built = []string{host}
		// The same configuration with one target: the archive and checksum settings are the
		// ones being checked, and cross-compiling five more binaries is what makes a cold run slow.
		if snapshotConfig, err = writeSingleTargetConfig(filepath.Join(root, ".goreleaser.yaml"), work, runtime.GOOS, runtime.GOARCH); err != nil {
			return err
		}
	}
	step(log, "goreleaser release --snapshot: "+strings.Join(built, ", "))
	if err := runIn(ctx, root, nil, log, tools.Goreleaser, "release", "--snapshot", "--clean", "--config", snapshotConfig); err != nil {
		return err
	}
	dist := filepath.Join(root, "dist")
	version, err := snapshotVersion(filepath.Join(dist, "metadata.json"))
	if err != nil {
		return err
	}
	digests, err := readChecksums(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		return err
	}

	step(log, "render .krew.yaml as krew-release-bot does, and validate it with krew")
	// The tag whose build this is: goreleaser stamps the binary with v + its version.
	tag := "v" + version
	krewTemplate, err := os.ReadFile(filepath.Join(root, ".krew.yaml"))
	if err != nil {
		return err
	}
	digestOf := func(archive string) (string, error) {
		if digest, ok := digests[archive]; ok {
			return digest, nil
		}
		if allPlatforms {
			return "", fmt.Errorf("goreleaser did not build %s", archive)
		}
		// Not built on this run: a well-formed stand-in. The archive's name is still checked
		// against goreleaser's name template below.
		return fmt.Sprintf("%x", sha256.Sum256([]byte(archive))), nil
	}
	rendered, err := renderKrewManifest(string(krewTemplate), tag, digestOf)
	if err != nil {
		return err
	}
	manifestPath := filepath.Join(work, pluginName+".yaml")
	if err := os.WriteFile(manifestPath, rendered, 0o644); err != nil {
		return err
	}
	// -skip-install: the validator's own install step downloads each URI; the installs below
	// use the local archives instead.
	if err := runIn(ctx, work, nil, log, tools.ValidateKrewManifest, "-manifest", manifestPath, "-skip-install"); err != nil {
		return fmt.Errorf("krew rejects the rendered manifest:\n%s\n%w", rendered, err)
	}
	manifest, err := parseKrewManifest(rendered)
	if err != nil {
		return err
	}
	releaseURL := fmt.Sprintf("https://github.com/%s/%s/releases/download/%s/", config.Release.GitHub.Owner, config.Release.GitHub.Name, tag)
	if err := manifest.matches(config.platforms(), releaseURL, config.archiveName); err != nil {
		return err
	}

	for _, p := range manifest.Spec.Platforms {
		if !slices.Contains(built, p.platform()) {
			continue
		}
		step(log, "krew install "+p.platform()+" from "+path.Base(p.URI))
		if err := installWithKrew(ctx, log, tools.Krew, manifestPath, filepath.Join(dist, path.Base(p.URI)), p, tag, work); err != nil {
			return fmt.Errorf("%s: %w", p.platform(), err)
		}
	}
	step(log, "release check passed")
	return nil
}

func step(log io.Writer, what string) { fmt.Fprintf(log, "==> %s\n", what) }

// runIn runs a tool in dir with extra environment, its output going to log.
func runIn(ctx context.Context, dir string, env []string, log io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return nil
}

// goreleaserConfig is the part of .goreleaser.yaml the manifest must agree with.
type goreleaserConfig struct {
	ProjectName string `json:"project_name"`
	Builds      []struct {
		GOOS   []string `json:"goos"`
		GOARCH []string `json:"goarch"`
	} `json:"builds"`
	Archives []struct {
		NameTemplate string `json:"name_template"`
	} `json:"archives"`
	Release struct {
		GitHub struct {
			Owner string `json:"owner"`
			Name  string `json:"name"`
		} `json:"github"`
	} `json:"release"`
}

func readGoreleaserConfig(file string) (*goreleaserConfig, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var c goreleaserConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(c.Builds) != 1 || len(c.Archives) != 1 {
		return nil, fmt.Errorf("%s: this check expects one build and one archive", file)
	}
	if c.Release.GitHub.Owner == "" || c.Release.GitHub.Name == "" {
		return nil, fmt.Errorf("%s: release.github.owner and .name are needed to know the download URLs", file)
	}
	return &c, nil
}

// platforms lists the OS/arch pairs goreleaser builds.
func (c *goreleaserConfig) platforms() []string {
	var out []string
	for _, goos := range c.Builds[0].GOOS {
		for _, goarch := range c.Builds[0].GOARCH {
			out = append(out, goos+"/"+goarch)
		}
	}
	return out
}

// archiveName is the file goreleaser makes for a platform. Only the fields the name template
// may use are filled in, so a template that grows another field fails here rather than
// silently naming files krew cannot find.
func (c *goreleaserConfig) archiveName(goos, goarch string) (string, error) {
	t, err := template.New("archive").Option("missingkey=error").Parse(c.Archives[0].NameTemplate)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = t.Execute(&b, map[string]string{"ProjectName": c.ProjectName, "Os": goos, "Arch": goarch})
	return b.String() + ".tar.gz", err
}

// writeSingleTargetConfig copies the goreleaser configuration with its build narrowed to one
// platform, and returns the copy's path.
func writeSingleTargetConfig(file, dir, goos, goarch string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var config map[string]any
	if err := yaml.Unmarshal(data, &config); err != nil {
		return "", err
	}
	builds, _ := config["builds"].([]any)
	for _, b := range builds {
		build, ok := b.(map[string]any)
		if !ok {
			return "", fmt.Errorf("%s: unexpected builds entry %v", file, b)
		}
		build["goos"], build["goarch"] = []string{goos}, []string{goarch}
		delete(build, "targets")
		delete(build, "ignore")
	}
	out, err := yaml.Marshal(config)
	if err != nil {
		return "", err
	}
	narrowed := filepath.Join(dir, "goreleaser-"+goos+"-"+goarch+".yaml")
	return narrowed, os.WriteFile(narrowed, out, 0o644)
}

func snapshotVersion(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var metadata struct {
		Version string `json:"version"`
	}
	if err := yaml.Unmarshal(data, &metadata); err != nil || metadata.Version == "" {
		return "", fmt.Errorf("%s: no version (%v)", file, err)
	}
	return metadata.Version, nil
}

// readChecksums reads goreleaser's checksums file: "<sha256>  <file>" per line.
func readChecksums(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	digests := map[string]string{}
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s: unexpected line %q", file, lines.Text())
		}
		digests[fields[1]] = fields[0]
	}
	return digests, lines.Err()
}

// releaseRequest holds what krew-release-bot passes to the template; a field the bot does not
// have fails the rendering, as it would on release.
type releaseRequest struct {
	TagName string
}

// renderKrewManifest renders the .krew.yaml template as krew-release-bot does: addURIAndSha
// renders its URL (which may use the tag) and writes the uri and sha256 lines, the digest
// coming here from the archives just built instead of a download.
func renderKrewManifest(text, tag string, digestOf func(archive string) (string, error)) ([]byte, error) {
	funcs := template.FuncMap{
		"addURIAndSha": func(urlTemplate, tag string) (string, error) {
			t, err := template.New("url").Parse(urlTemplate)
			if err != nil {
				return "", err
			}
			var url strings.Builder
			if err := t.Execute(&url, map[string]string{"TagName": tag, "Version": versionOfTag(tag)}); err != nil {
				return "", err
			}
			digest, err := digestOf(path.Base(url.String()))
			if err != nil {
				return "", fmt.Errorf("%s: %w", url.String(), err)
			}
			return fmt.Sprintf("uri: %s\n    sha256: %s", url.String(), digest), nil
		},
		"indent": func(spaces int, text string) string {
			text = strings.ReplaceAll(text, "    sha256:", "sha256:")
			pad := strings.Repeat(" ", spaces)
			return strings.TrimSpace(pad + strings.ReplaceAll(text, "\n", "\n"+pad))
		},
	}
	t, err := template.New(".krew.yaml").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := t.Execute(&out, releaseRequest{TagName: tag}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// versionOfTag is the bot's .Version inside addURIAndSha: the dotted number in the tag.
func versionOfTag(tag string) string {
	if v := regexp.MustCompile(`\d+(\.\d+)+`).FindString(tag); v != "" {
		return v
	}
	return tag
}

type krewManifest struct {
	Spec struct {
		Version   string         `json:"version"`
		Platforms []krewPlatform `json:"platforms"`
	} `json:"spec"`
}

type krewPlatform struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	URI    string `json:"uri"`
	Sha256 string `json:"sha256"`
	Bin    string `json:"bin"`
}

func (p krewPlatform) platform() string {
	return p.Selector.MatchLabels["os"] + "/" + p.Selector.MatchLabels["arch"]
}

func parseKrewManifest(data []byte) (*krewManifest, error) {
	// Only the fields above matter here; krew's validator has judged the rest.
	var m krewManifest
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// matches checks that the manifest covers exactly the platforms goreleaser builds, each with
// the archive goreleaser names for it, at the release's download URL.
func (m *krewManifest) matches(platforms []string, releaseURL string, archiveName func(goos, goarch string) (string, error)) error {
	var errs []error
	var listed []string
	for _, p := range m.Spec.Platforms {
		listed = append(listed, p.platform())
		goos, goarch, _ := strings.Cut(p.platform(), "/")
		want, err := archiveName(goos, goarch)
		if err != nil {
			return err
		}
		if p.URI != releaseURL+want {
			errs = append(errs, fmt.Errorf("%s: uri %s, but goreleaser publishes %s", p.platform(), p.URI, releaseURL+want))
		}
		wantBin := "kubectl-alertmend"
		if goos == "windows" {
			wantBin += ".exe"
		}
		if p.Bin != wantBin {
			errs = append(errs, fmt.Errorf("%s: bin %q, but the archive holds %q", p.platform(), p.Bin, wantBin))
		}
	}
	for _, p := range platforms {
		if !slices.Contains(listed, p) {
			errs = append(errs, fmt.Errorf(".krew.yaml has no platform for %s, which goreleaser builds", p))
		}
	}
	for _, p := range listed {
		if !slices.Contains(platforms, p) {
			errs = append(errs, fmt.Errorf(".krew.yaml lists %s, which goreleaser does not build", p))
		}
	}
	return errors.Join(errs...)
}

// installWithKrew installs one platform's archive with krew into a private krew root, as a
// user on that platform would (KREW_OS and KREW_ARCH stand in for the machine), and checks
// what landed there.
func installWithKrew(ctx context.Context, log io.Writer, krew, manifest, archive string, p krewPlatform, tag, work string) error {
	goos, goarch, _ := strings.Cut(p.platform(), "/")
	krewRoot := filepath.Join(work, "krew-"+goos+"-"+goarch)
	env := []string{"KREW_ROOT=" + krewRoot, "KREW_OS=" + goos, "KREW_ARCH=" + goarch, "KREW_NO_UPGRADE_CHECK=1"}
	if err := runIn(ctx, work, env, log, krew, "install", "--manifest="+manifest, "--archive="+archive); err != nil {
		return err
	}
	store := filepath.Join(krewRoot, "store", pluginName, tag)
	for _, file := range []string{p.Bin, "LICENSE", "kubectl_complete-alertmend"} {
		info, err := os.Stat(filepath.Join(store, file))
		if err != nil {
			return fmt.Errorf("the installed plugin lacks %s: %w", file, err)
		}
		if file != "LICENSE" && info.Mode()&0o111 == 0 {
			return fmt.Errorf("the installed %s is not executable (mode %v)", file, info.Mode())
		}
	}
	linked := filepath.Join(krewRoot, "bin", p.Bin)
	if _, err := os.Stat(linked); err != nil {
		return fmt.Errorf("krew did not put the plugin on its PATH: %w", err)
	}
	if p.platform() != runtime.GOOS+"/"+runtime.GOARCH {
		return nil
	}
	return checkInstalledPlugin(ctx, krewRoot, store, tag)
}

// checkInstalledPlugin runs what krew installed for this machine: the plugin reports the tag
// it was built for, and the completion script, found through PATH as kubectl finds it,
// reaches the plugin's completion.
func checkInstalledPlugin(ctx context.Context, krewRoot, store, tag string) error {
	bin := filepath.Join(krewRoot, "bin")
	pathEnv := "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")
	out, err := output(ctx, nil, filepath.Join(bin, "kubectl-alertmend"), "version")
	if err != nil {
		return err
	}
	if !strings.Contains(out, "kubectl-alertmend "+tag+" ") {
		return fmt.Errorf("the installed plugin reports %q, want version %s", strings.TrimSpace(out), tag)
	}
	out, err = output(ctx, []string{pathEnv}, filepath.Join(store, "kubectl_complete-alertmend"), "explain", "rbac-cluster-adm")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(out, "rbac-cluster-admin\t") {
		return fmt.Errorf("the completion script answered %q, want rbac-cluster-admin", out)
	}
	return nil
}

func output(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}
