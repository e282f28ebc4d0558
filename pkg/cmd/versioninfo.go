package cmd

import "github.com/alertmend/kubectl-alertmend/pkg/version"

func versionInfo() version.Info { return version.Get() }
