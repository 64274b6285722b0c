"""The laboratory's accredited scope (CMA 资质认定 under RB/T 214, CNAS accreditation under
ISO/IEC 17025 with the ILAC-MRA), signatory authority over scope items (授权签字人), and which
accreditation marks a document may carry (:mod:`lims.accreditation.marks`, pure)."""
