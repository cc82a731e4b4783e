package spec

// canonicalTypes are the other definitional resources a validation may need
// by canonical URL: a QuestionnaireResponse names its Questionnaire, a
// MeasureReport its Measure, a search its SearchParameter.
var canonicalTypes = map[string]bool{
	"Questionnaire": true, "Measure": true, "Library": true, "SearchParameter": true,
	"OperationDefinition": true, "CapabilityStatement": true, "ConceptMap": true,
	"NamingSystem": true, "ImplementationGuide": true, "PlanDefinition": true, "ActivityDefinition": true,
}

type rawResource struct {
	rt   string
	data []byte
}

// AddResource keeps another canonical resource as JSON; the validator builds
// its typed tree when it first needs it.
func (r *Registry) AddResource(resourceType, url string, data []byte) {
	r.mu.Lock()
	if r.other == nil {
		r.other = map[string]rawResource{}
	}
	r.other[url] = rawResource{resourceType, data}
	r.mu.Unlock()
}

// Resource returns a canonical resource added with AddResource (a |version
// suffix is ignored).
func (r *Registry) Resource(url string) (resourceType string, data []byte, ok bool) {
	url = stripVersion(url)
	r.mu.RLock()
	x, ok := r.other[url]
	r.mu.RUnlock()
	return x.rt, x.data, ok
}
