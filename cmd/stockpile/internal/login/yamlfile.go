package login

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// yamlSet sets one value of a YAML file: a scalar (with tag, "!!str" by
// default) or, with list set, a sequence of strings, at path through
// nested mappings.
type yamlSet struct {
	path  []string
	value string
	tag   string
	list  []string
}

// setYAML sets values in a YAML document of mappings (.yarnrc.yml,
// .gemrc), keeping the other keys and the comments.
func setYAML(old []byte, sets []yamlSet) ([]byte, error) {
	var doc yaml.Node
	if len(bytes.TrimSpace(old)) > 0 {
		if err := yaml.Unmarshal(old, &doc); err != nil {
			return nil, fmt.Errorf("not valid YAML: %w", err)
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the document is not a mapping")
	}
	for _, s := range sets {
		m := root
		for _, k := range s.path[:len(s.path)-1] {
			next := mapValue(m, k)
			if next == nil {
				next = &yaml.Node{Kind: yaml.MappingNode}
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, next)
			} else if next.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("%s is not a mapping", k)
			}
			m = next
		}
		setMapValue(m, s.path[len(s.path)-1], s.node())
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s yamlSet) node() *yaml.Node {
	if s.list != nil {
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, v := range s.list {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v})
		}
		return n
	}
	tag := s.tag
	if tag == "" {
		tag = "!!str"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s.value}
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setMapValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v.HeadComment, v.LineComment = m.Content[i+1].HeadComment, m.Content[i+1].LineComment
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

// yamlUnmarshal decodes b, an empty document being no error.
func yamlUnmarshal(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return yaml.Unmarshal(b, v)
}
