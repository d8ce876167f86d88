// talos-patch does with Talos's own config library what
// `talosctl gen config --config-patch-control-plane` and `talosctl patch
// machineconfig` do to a node's config: generate a control-plane config (or
// start from a given one), apply patches with configpatcher, validate the
// result for a metal node, and print it. The tests and the e2e suite read
// patches merged here rather than their own guess of Talos's merge rules.
// Built once per Talos minor (lab/tools/build.sh talos), so this source must
// compile against every machinery version listed there.
//
// Usage: talos-patch (--talos-version V [--secrets FILE] | --config FILE) [PATCH...]
// A PATCH is a file path (talosctl's @file); patches apply in order, as
// talosctl applies repeated --patch flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/configpatcher"
	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	"github.com/siderolabs/talos/pkg/machinery/config/generate"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/constants"
)

// Fixed, so that two runs differ only by their patches (and secrets, unless --secrets).
const (
	clusterName = "platform-auth"
	endpoint    = "https://controlplane.platform-auth.test:6443"
	// talosctl gen config's --install-disk default; metal mode requires one.
	installDisk = "/dev/sda"
)

// metal is the runtime mode of a bare-metal node: `talosctl validate --mode metal`.
type metal struct{}

func (metal) String() string        { return "metal" }
func (metal) RequiresInstall() bool { return true }
func (metal) InContainer() bool     { return false }

func main() {
	version := flag.String("talos-version", "", "generate a control-plane config for this Talos version, e.g. v1.14")
	secretsFile := flag.String("secrets", "", "with --talos-version: the secrets bundle, written there first when missing")
	base := flag.String("config", "", "start from this machine config instead of generating one")
	flag.Parse()

	merged, err := run(*version, *secretsFile, *base, flag.Args())
	if err != nil {
		fmt.Fprintf(os.Stderr, "talos-patch: %v\n", err)
		os.Exit(1)
	}

	os.Stdout.Write(merged) //nolint:errcheck
}

func run(version, secretsFile, base string, patchFiles []string) ([]byte, error) {
	var (
		cfg config.Provider
		err error
	)

	switch {
	case (version == "") == (base == ""):
		return nil, errors.New("give exactly one of --talos-version and --config")
	case base != "":
		cfg, err = configloader.NewFromFile(base)
	default:
		cfg, err = generated(version, secretsFile)
	}

	if err != nil {
		return nil, err
	}

	patchArgs := make([]string, len(patchFiles))
	for i, file := range patchFiles {
		patchArgs[i] = "@" + file
	}

	patches, err := configpatcher.LoadPatches(patchArgs)
	if err != nil {
		return nil, fmt.Errorf("loading patches: %w", err)
	}

	out, err := configpatcher.Apply(configpatcher.WithConfig(cfg), patches)
	if err != nil {
		return nil, fmt.Errorf("applying patches: %w", err)
	}

	merged, err := out.Config()
	if err != nil {
		return nil, fmt.Errorf("loading the merged config: %w", err)
	}

	warnings, err := merged.Validate(metal{})
	for _, warning := range warnings {
		fmt.Fprintf(os.Stderr, "talos-patch: warning: %s\n", warning)
	}

	if err != nil {
		return nil, fmt.Errorf("the merged config does not validate: %w", err)
	}

	return merged.EncodeBytes(encoder.WithComments(encoder.CommentsDisabled))
}

// generated is `talosctl gen config`'s control-plane config for the given Talos version.
func generated(version, secretsFile string) (config.Provider, error) {
	contract, err := config.ParseContractFromVersion(version)
	if err != nil {
		return nil, err
	}

	bundle, err := secretsBundle(secretsFile, contract)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}

	// talosctl gen config names its default installer image too; 1.14 warns without one.
	input, err := generate.NewInput(clusterName, endpoint, constants.DefaultKubernetesVersion,
		generate.WithVersionContract(contract), generate.WithSecretsBundle(bundle), generate.WithInstallDisk(installDisk),
		generate.WithInstallImage("ghcr.io/siderolabs/installer:"+version))
	if err != nil {
		return nil, err
	}

	return input.Config(machine.TypeControlPlane)
}

// secretsBundle loads the bundle from path, or makes one (and saves it there when path is set).
func secretsBundle(path string, contract *config.VersionContract) (*secrets.Bundle, error) {
	if path != "" {
		if _, err := os.Stat(path); err == nil {
			return secrets.LoadBundle(path)
		}
	}

	bundle, err := secrets.NewBundle(secrets.NewFixedClock(time.Now()), contract)
	if err != nil || path == "" {
		return bundle, err
	}

	encoded, err := encoder.NewEncoder(bundle, encoder.WithComments(encoder.CommentsDisabled)).Encode()
	if err != nil {
		return nil, err
	}

	return bundle, os.WriteFile(path, encoded, 0o600)
}
