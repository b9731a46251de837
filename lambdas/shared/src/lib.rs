//! Types and errors shared by the six Lambda functions of the rider-photo workflow:
//! the execution input, the results each state adds, and the error types the state
//! machine catches. Filled in by the workflow issue.
