package cmd

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"

	"github.com/alertmend/kubectl-alertmend/checks"
	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/connect"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// registerCompletions teaches `__complete` (and so the bash, zsh, fish and PowerShell scripts
// of `completion`, and kubectl's plugin completion) the values of the flags that take a fixed
// set, on every command that has them, and the check IDs `explain` takes. Flags are matched
// by name, so a command added later gets the same completion for the same flag. As kubectl
// does, -n and --object complete from target's cluster and --context from its kubeconfig.
func registerCompletions(root *cobra.Command, target connect.Target) {
	root.InitDefaultCompletionCmd()
	if completion, _, err := root.Find([]string{"completion"}); err == nil && completion != root {
		// cobra's completion command prints its help, and exits 0, for a shell it does not know.
		completion.Args = cobra.ArbitraryArgs
		completion.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return usageError(cmd, fmt.Errorf("unknown shell %q: want bash, zsh, fish or powershell", args[0]))
		}
		completion.Long = `Print the completion script of kubectl-alertmend for a shell. For
"kubectl alertmend <TAB>", put the kubectl_complete-alertmend script on PATH
instead (make install installs it; release archives carry it).`
		for _, shell := range completion.Commands() {
			shell.Long = completionHelp(shell.Name())
		}
	}
	// kubectl's connection flags are the root's, and every command's.
	for name, complete := range map[string]cobra.CompletionFunc{
		"namespace": completeNamespaces(target),
		"context":   completeOne(kubeconfigContexts(target)),
	} {
		// The only possible error is a missing flag; ConfigFlags always adds these.
		_ = root.RegisterFlagCompletionFunc(name, complete)
	}
	walkCommands(root, func(c *cobra.Command) {
		for name, complete := range flagCompletions(c, target) {
			if c.Flags().Lookup(name) == nil || complete == nil {
				continue
			}
			// The only possible error is a second registration for the same flag, which the
			// walk cannot cause: every command and so every local flag is visited once.
			_ = c.RegisterFlagCompletionFunc(name, complete)
		}
		if c.Flags().Lookup("filename") != nil {
			// -f takes manifests (or a directory of them, or - for stdin). The only error is a
			// missing flag, checked just above.
			_ = c.MarkFlagFilename("filename", "yaml", "yml", "json")
		}
		if c.Name() == "explain" && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = completeExplainArgs
		}
	})
}

// completionHelp says how to load a shell's script, in lines that fit 80 columns.
func completionHelp(shell string) string {
	switch shell {
	case "bash":
		return `Print the bash completion script; it needs the bash-completion package.

In this shell:
  source <(kubectl-alertmend completion bash)

In every new shell (Linux; on macOS with Homebrew, write to
$(brew --prefix)/etc/bash_completion.d/ instead):
  kubectl-alertmend completion bash > /etc/bash_completion.d/kubectl-alertmend`
	case "zsh":
		return `Print the zsh completion script; completion must be on in zsh
(autoload -U compinit; compinit in ~/.zshrc).

In this shell:
  source <(kubectl-alertmend completion zsh)

In every new shell, write it to a directory of $fpath:
  kubectl-alertmend completion zsh > "${fpath[1]}/_kubectl-alertmend"`
	case "fish":
		return `Print the fish completion script.

In this shell:
  kubectl-alertmend completion fish | source

In every new shell:
  kubectl-alertmend completion fish \
    > ~/.config/fish/completions/kubectl-alertmend.fish`
	case "powershell":
		return `Print the PowerShell completion script.

In this shell:
  kubectl-alertmend completion powershell | Out-String | Invoke-Expression

In every new shell, add that line to your PowerShell profile.`
	}
	return ""
}

func walkCommands(c *cobra.Command, visit func(*cobra.Command)) {
	visit(c)
	for _, sub := range c.Commands() {
		walkCommands(sub, visit)
	}
}

// flagCompletions maps a flag name to how its values complete on command c; a nil entry means
// c's values for that flag are not known here.
func flagCompletions(c *cobra.Command, target connect.Target) map[string]cobra.CompletionFunc {
	ids := func() []cobra.Completion { return checkIDChoices(c.Name()) }
	noFiles := cobra.NoFileCompletions
	return map[string]cobra.CompletionFunc{
		"checks":   completeList(ids),
		"skip":     completeList(ids),
		"category": completeList(categoryChoices),
		"output":   completeOutput(c),
		"fail-on":  completeOne(failOnChoices),
		"color":    completeOne(colorChoices),
		"subject":  completeSubjectKind,
		"contexts": completeList(kubeconfigContexts(target)),
		"object":   completeObject(target),
		// Values that are never file names: without this the shell offers the current directory.
		"chunk-size":               noFiles,
		"memory-overcommit-ratio":  noFiles,
		"netpol-system-namespaces": noFiles,
		"system-namespaces":        noFiles,
		"prometheus-url":           noFiles,
		"all-contexts":             noFiles,
		"parallel":                 noFiles,
		"push-gateway":             noFiles,
		"push-grouping":            noFiles,
		"interval":                 noFiles,
		"debounce":                 noFiles,
		"alertmanager-url":         noFiles,
		"alertmanager-resend":      noFiles,
		"listen":                   noFiles,
	}
}

// checkIDChoices lists the check IDs the named command accepts, each with its title.
func checkIDChoices(command string) []cobra.Completion {
	var choices []cobra.Completion
	for _, c := range checks.All(checks.DefaultOptions()) {
		m := c.Meta()
		if command == "rbac-audit" && !rbacAuditRuns(m) {
			continue
		}
		choices = append(choices, cobra.CompletionWithDesc(m.ID, m.Title))
	}
	return choices
}

func categoryChoices() []cobra.Completion {
	var choices []cobra.Completion
	for _, c := range check.Categories() {
		choices = append(choices, string(c))
	}
	return choices
}

// completeOutput offers the formats of the document the command would write, as the flags
// typed so far decide; the snapshot command's -o is a file.
func completeOutput(c *cobra.Command) cobra.CompletionFunc {
	if c.Name() == "snapshot" {
		return nil
	}
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var choices []cobra.Completion
		for _, f := range documentOf(cmd).Formats() {
			choices = append(choices, string(f))
		}
		return matching(choices, "", toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

func failOnChoices() []cobra.Completion {
	var choices []cobra.Completion
	for _, s := range check.Severities() {
		choices = append(choices, string(s))
	}
	return append(choices, cobra.CompletionWithDesc("none", "never fail on findings"))
}

func colorChoices() []cobra.Completion {
	return []cobra.Completion{
		cobra.CompletionWithDesc("auto", "on a terminal, unless NO_COLOR is set"),
		cobra.CompletionWithDesc("always", "even through a pipe"),
		cobra.CompletionWithDesc("never", "plain text"),
	}
}

// completeOne completes a flag that takes one value from choices.
func completeOne(choices func() []cobra.Completion) cobra.CompletionFunc {
	if choices == nil {
		return nil
	}
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return matching(choices(), "", toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeList completes a comma-separated list: only the part after the last comma is being
// typed, so the candidates carry the finished part in front and leave out what it already names.
func completeList(choices func() []cobra.Completion) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		done, partial := "", toComplete
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			done, partial = toComplete[:i+1], toComplete[i+1:]
		}
		chosen := strings.Split(strings.TrimSuffix(done, ","), ",")
		return matching(choices(), done, partial, chosen), cobra.ShellCompDirectiveNoFileComp
	}
}

// matching keeps the choices whose value starts with partial and is not in exclude, prefixed.
func matching(choices []cobra.Completion, prefix, partial string, exclude []string) []cobra.Completion {
	var out []cobra.Completion
	for _, choice := range choices {
		value, _, _ := strings.Cut(choice, "\t")
		if !strings.HasPrefix(value, partial) || slices.Contains(exclude, value) {
			continue
		}
		out = append(out, prefix+choice)
	}
	return out
}

// kubeconfigContexts is the contexts of the kubeconfig the connection flags typed so far
// name (--kubeconfig's, else KUBECONFIG's or ~/.kube/config's), for --context and --contexts.
func kubeconfigContexts(target connect.Target) func() []cobra.Completion {
	return func() []cobra.Completion {
		contexts, err := target.Contexts()
		if err != nil {
			return nil
		}
		return slices.Sorted(maps.Keys(contexts))
	}
}

// completionTimeout bounds what completion asks the cluster: a TAB must not hang the shell on
// a server that does not answer.
const completionTimeout = 5 * time.Second

// clusterNames lists the names of kind's objects from target's cluster, in namespace if the
// kind is namespaced; none when the cluster cannot be asked. Only object metadata is listed.
func clusterNames(ctx context.Context, target connect.Target, kind snapshot.Kind, namespace string) []cobra.Completion {
	config, err := target.RESTConfig()
	if err != nil {
		return nil
	}
	if config.Timeout == 0 || config.Timeout > completionTimeout {
		config.Timeout = completionTimeout
	}
	client, err := metadata.NewForConfig(config)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	info := kind.Info()
	gv, err := schema.ParseGroupVersion(info.GroupVersion)
	if err != nil {
		return nil
	}
	resource := client.Resource(gv.WithResource(info.Resource))
	var list *metav1.PartialObjectMetadataList
	if info.Namespaced {
		list, err = resource.Namespace(namespace).List(ctx, metav1.ListOptions{})
	} else {
		list, err = resource.List(ctx, metav1.ListOptions{})
	}
	if err != nil {
		return nil
	}
	var names []cobra.Completion
	for _, item := range list.Items {
		names = append(names, item.Name)
	}
	slices.Sort(names)
	return names
}

// completeNamespaces offers the cluster's namespaces for -n.
func completeNamespaces(target connect.Target) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		names := clusterNames(commandContext(cmd), target, snapshot.KindNamespaces, "")
		return matching(names, "", toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeObject completes --object TYPE/NAME: first the types, then the names of that type
// in the cluster, in -n's namespace or the context's, as the run would look for them.
func completeObject(target connect.Target) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		typ, name, typed := strings.Cut(toComplete, "/")
		if !typed {
			var types []cobra.Completion
			for _, t := range snapshot.ObjectTypes() {
				types = append(types, t+"/")
			}
			return matching(types, "", strings.ToLower(typ), nil), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
		}
		kind, ok := snapshot.KindForType(typ)
		if !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		namespace := target.Namespace()
		if f := cmd.Flag("namespace"); f != nil && f.Changed {
			namespace = f.Value.String()
		}
		names := clusterNames(commandContext(cmd), target, kind, namespace)
		return matching(names, typ+"/", name, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

func commandContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// completeSubjectKind offers the three subject kinds of --subject; the name after the colon is
// the user's to type.
func completeSubjectKind(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if strings.Contains(toComplete, ":") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	kinds := []cobra.Completion{
		cobra.CompletionWithDesc("sa:", "a service account, sa:NAMESPACE/NAME"),
		cobra.CompletionWithDesc("user:", "a user, user:NAME"),
		cobra.CompletionWithDesc("group:", "a group, group:NAME"),
	}
	return matching(kinds, "", toComplete, nil), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// completeExplainArgs completes the one check ID `explain` takes.
func completeExplainArgs(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return matching(checkIDChoices("explain"), "", toComplete, nil), cobra.ShellCompDirectiveNoFileComp
}
