//! The `notification` Lambda function of the rider-photo workflow (DESIGN.md section 2).
//! Its handler and `bootstrap` binary arrive with the workflow issue.
