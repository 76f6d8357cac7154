package config

import (
	"os"
	"sort"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestExampleConfig checks that config.example.yaml is accepted by
// `replaygate config check`'s loader and names every option there is.
func TestExampleConfig(t *testing.T) {
	const path = "../config.example.yaml"
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("example is not valid: %v", err)
	}
	example, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defaults, err := yaml.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	have := keyPaths(t, example)
	var missing []string
	for k := range keyPaths(t, defaults) {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("config.example.yaml lacks these options: %v", missing)
	}
}

// keyPaths lists the dotted paths of every mapping key in a YAML document.
func keyPaths(t *testing.T, doc []byte) map[string]bool {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := prefix + n.Content[i].Value
				out[k] = true
				walk(n.Content[i+1], k+".")
			}
		}
	}
	walk(&root, "")
	return out
}
