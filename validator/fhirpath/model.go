package fhirpath

import "strings"

// Model tells the engine how FHIR types relate. is/as/ofType and the
// resource-type filter at the start of a path (Resource.id on a Patient) use
// it; without a Model only exact type names match.
type Model interface {
	// IsSubtype reports whether typ is base or derives from it:
	// IsSubtype("Patient", "DomainResource"), IsSubtype("code", "string").
	IsSubtype(typ, base string) bool
}

// TypeChecker may be implemented by a Model to make is/as/ofType with a
// type name that does not exist an error rather than a silent false.
type TypeChecker interface {
	KnownType(name string) bool
}

// staticModel is a Model from a child → parent map.
type staticModel map[string]string

func (m staticModel) IsSubtype(typ, base string) bool {
	for i := 0; typ != "" && i < 16; i++ {
		if typ == base {
			return true
		}
		typ = m[typ]
	}
	return false
}

func (m staticModel) KnownType(name string) bool {
	_, ok := m[name]
	return ok || name == "Base"
}

// R4 is the FHIR R4 (4.0.1) type hierarchy, from the baseDefinition of each
// core StructureDefinition. It is used where no model derived from loaded
// definitions is given.
var R4 Model = buildR4()

func buildR4() staticModel {
	m := staticModel{
		"Element": "Base", "Resource": "Base", "DomainResource": "Resource",
		"Binary": "Resource", "Bundle": "Resource", "Parameters": "Resource",
		"BackboneElement": "Element",
		// primitives and their specialisations
		"boolean": "Element", "integer": "Element", "string": "Element", "decimal": "Element",
		"uri": "Element", "base64Binary": "Element", "instant": "Element", "date": "Element",
		"dateTime": "Element", "time": "Element", "xhtml": "Element",
		"code": "string", "id": "string", "markdown": "string",
		"url": "uri", "canonical": "uri", "oid": "uri", "uuid": "uri",
		"positiveInt": "integer", "unsignedInt": "integer",
		// quantities
		"Quantity": "Element", "Age": "Quantity", "Count": "Quantity", "Distance": "Quantity",
		"Duration": "Quantity", "SimpleQuantity": "Quantity", "MoneyQuantity": "Quantity",
	}
	for _, t := range strings.Fields(`Address Annotation Attachment CodeableConcept Coding
		ContactPoint HumanName Identifier Money Period Range Ratio Reference SampledData
		Signature ContactDetail Contributor DataRequirement Expression ParameterDefinition
		RelatedArtifact TriggerDefinition UsageContext Meta Narrative Extension`) {
		m[t] = "Element"
	}
	for _, t := range strings.Fields(`Timing Dosage ElementDefinition MarketingStatus Population
		ProdCharacteristic ProductShelfLife SubstanceAmount`) {
		m[t] = "BackboneElement"
	}
	for _, t := range strings.Fields(`Account ActivityDefinition AdverseEvent AllergyIntolerance
		Appointment AppointmentResponse AuditEvent Basic BiologicallyDerivedProduct BodyStructure
		CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem ChargeItemDefinition Claim
		ClaimResponse ClinicalImpression CodeSystem Communication CommunicationRequest
		CompartmentDefinition Composition ConceptMap Condition Consent Contract Coverage
		CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue Device
		DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement DiagnosticReport
		DocumentManifest DocumentReference EffectEvidenceSynthesis Encounter Endpoint
		EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence
		EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal
		GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
		ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan
		Invoice Library Linkage List Location Measure MeasureReport Media Medication
		MedicationAdministration MedicationDispense MedicationKnowledge MedicationRequest
		MedicationStatement MedicinalProduct MedicinalProductAuthorization
		MedicinalProductContraindication MedicinalProductIndication MedicinalProductIngredient
		MedicinalProductInteraction MedicinalProductManufactured MedicinalProductPackaged
		MedicinalProductPharmaceutical MedicinalProductUndesirableEffect MessageDefinition
		MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
		ObservationDefinition OperationDefinition OperationOutcome Organization
		OrganizationAffiliation Patient PaymentNotice PaymentReconciliation Person
		PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire
		QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition
		ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment
		RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen
		SpecimenDefinition StructureDefinition StructureMap Subscription Substance
		SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation
		SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task
		TerminologyCapabilities TestReport TestScript ValueSet VerificationResult
		VisionPrescription`) {
		m[t] = "DomainResource"
	}
	return m
}

// isPrimitiveTypeName reports whether a FHIR type name is a primitive
// (lower-case first letter).
func isPrimitiveTypeName(t string) bool {
	return t != "" && t[0] >= 'a' && t[0] <= 'z'
}
