//! Constraint evaluation on the device: every `FrameworkComponent` is compiled by the
//! constraint compiler and its kernel launched over the evaluation domain.

use stwo::core::air::Component;
use stwo::core::fields::m31::BaseField;
use stwo::prover::poly::circle::PolyOps;
use stwo::prover::{ComponentProver, DomainEvaluationAccumulator, EvaluationMode, Trace};
use stwo_constraint_framework::{FrameworkComponent, FrameworkEval};

use super::{CudaBackend, DeviceColumn, dims_for};
use crate::constraints::ConstraintKernel;
use crate::constraints::codegen::KERNEL_NAME;
use crate::constraints::reference::{denominator_inverses, evaluation_domain, kernel_columns};
use crate::device::{self, Arg, DeviceBuffer, Module};

fn secure_words(values: &[stwo::core::fields::qm31::SecureField]) -> Vec<u32> {
    values
        .iter()
        .flat_map(|v| v.to_m31_array().map(|m| m.0))
        .collect()
}

impl<E: FrameworkEval + Sync> ComponentProver<CudaBackend> for FrameworkComponent<E> {
    fn evaluate_constraint_quotients_on_domain(
        &self,
        trace: &Trace<'_, CudaBackend>,
        accumulator: &mut DomainEvaluationAccumulator<CudaBackend>,
    ) {
        let n_constraints = self.n_constraints();
        if n_constraints == 0 {
            return;
        }
        if self.is_disabled() {
            accumulator.skip_coeffs(n_constraints);
            return;
        }
        let kernel = ConstraintKernel::new(&**self, self.claimed_sum());
        let mode = accumulator.evaluation_mode();
        let eval_domain = evaluation_domain(self.max_constraint_log_degree_bound(), mode);
        let trace_log_size = self.log_size();

        // The columns as the kernel numbers them, on (at least) the evaluation domain.
        let polys: Vec<_> = kernel_columns(self, trace).into_iter().flatten().collect();
        let extended: Vec<DeviceColumn<BaseField>> = match mode {
            EvaluationMode::SubDomain { .. } => Vec::new(),
            EvaluationMode::ExtendToEvalDomain => {
                let twiddles = CudaBackend::precompute_twiddles(eval_domain.half_coset);
                polys
                    .iter()
                    .map(|p| p.get_evaluation_on_domain(eval_domain, &twiddles).values)
                    .collect()
            }
        };
        let column_ptrs: Vec<u64> = match mode {
            EvaluationMode::SubDomain { .. } => {
                polys.iter().map(|p| p.evals.values.ptr()).collect()
            }
            EvaluationMode::ExtendToEvalDomain => extended.iter().map(DeviceColumn::ptr).collect(),
        };

        let device = device::current();
        let [mut column] = accumulator.columns([(eval_domain.log_size(), n_constraints)]);
        // The first constraint takes the last power (the verifier folds `acc·α + c`).
        column.random_coeff_powers.reverse();
        let columns = DeviceBuffer::from_ptrs(device.clone(), &column_ptrs);
        let coeffs =
            DeviceBuffer::from_words(device.clone(), &secure_words(&column.random_coeff_powers));
        let constants = DeviceBuffer::from_words(device.clone(), &secure_words(kernel.constants()));
        let denom_inv: Vec<u32> = denominator_inverses(trace_log_size, eval_domain)
            .iter()
            .map(|v| v.0)
            .collect();
        let denom_inv = DeviceBuffer::from_words(device.clone(), &denom_inv);
        let acc = column.col.columns.each_mut().map(|c| c.ptr_mut());
        device.launch(
            Module::Generated(&kernel.source),
            KERNEL_NAME,
            dims_for(1 << eval_domain.log_size()),
            false,
            &[
                Arg::Ptr(columns.ptr()),
                Arg::Ptr(coeffs.ptr()),
                Arg::Ptr(constants.ptr()),
                Arg::Ptr(denom_inv.ptr()),
                Arg::Ptr(acc[0]),
                Arg::Ptr(acc[1]),
                Arg::Ptr(acc[2]),
                Arg::Ptr(acc[3]),
                Arg::U32(trace_log_size),
                Arg::U32(eval_domain.log_size()),
            ],
        );
    }
}
