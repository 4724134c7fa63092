package validate

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/json"
)

// CRDSchema validates custom resources of one kind the way the API server does: its
// unknown-field pruning (every pruned path is an error here) and its OpenAPI schema validator.
type CRDSchema struct {
	gvk        schema.GroupVersionKind
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
}

// LoadCRDSchemas reads CustomResourceDefinitions from a YAML file and returns a schema for every
// served version of each.
func LoadCRDSchemas(path string) (map[schema.GroupVersionKind]*CRDSchema, error) {
	docs, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[schema.GroupVersionKind]*CRDSchema{}
	for _, d := range docs {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := json.UnmarshalCaseSensitivePreserveInts(d.JSON, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", d.Source, err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return nil, fmt.Errorf("%s %s: convert schema: %w", crd.Name, v.Name, err)
			}
			ss, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: structural schema: %w", crd.Name, v.Name, err)
			}
			val, _, err := apiservervalidation.NewSchemaValidator(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: schema validator: %w", crd.Name, v.Name, err)
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			out[gvk] = &CRDSchema{gvk: gvk, structural: ss, validator: val}
		}
	}
	return out, nil
}

// Validate checks one document: unknown fields (what pruning would drop) and schema errors.
func (c *CRDSchema) Validate(d Doc) error {
	var obj map[string]any
	if err := json.UnmarshalCaseSensitivePreserveInts(d.JSON, &obj); err != nil {
		return fmt.Errorf("%s: %w", d.Source, err)
	}
	var errs []error
	pruned := pruning.PruneWithOptions(obj, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, p := range pruned {
		errs = append(errs, fmt.Errorf("unknown field %q", p))
	}
	for _, e := range apiservervalidation.ValidateCustomResource(nil, obj, c.validator) {
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %s %q (CRD schema): %w", d.Source, d.GVK.Kind, d.Name, errors.Join(errs...))
	}
	return nil
}

// ArgoCDModule is the ArgoCD release whose CRDs validate the Application and AppProject. Its Go
// API package does not build from the module proxy (gitops-engine's pseudo-version is refused),
// but the module's zip carries manifests/crds, the CRDs ArgoCD installs.
const ArgoCDModule = "github.com/argoproj/argo-cd/v3@v3.5.7"

// ArgoCDSchemas downloads (or finds in the module cache) ArgoCDModule and loads its CRDs.
func ArgoCDSchemas() (map[schema.GroupVersionKind]*CRDSchema, error) {
	cmd := exec.Command("go", "mod", "download", "-json", ArgoCDModule)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download %s: %w", ArgoCDModule, err)
	}
	var info struct{ Dir string }
	if err := json.UnmarshalCaseSensitivePreserveInts(out, &info); err != nil || info.Dir == "" {
		return nil, fmt.Errorf("go mod download %s: no module directory in %q", ArgoCDModule, strings.TrimSpace(string(out)))
	}
	all := map[schema.GroupVersionKind]*CRDSchema{}
	for _, f := range []string{"application-crd.yaml", "appproject-crd.yaml"} {
		m, err := LoadCRDSchemas(filepath.Join(info.Dir, "manifests", "crds", f))
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			all[k] = v
		}
	}
	return all, nil
}
