!> The outer iteration: linearise, correct, optimise, until converged or out of budget.
!>
!> Each iteration evaluates values and derivatives at x (the reference point), restores
!> feasibility with those derivatives (correction phase) and, once feasible, takes one optimisation
!> step.  The run is optimal (RESULT_OPTIMAL) when an iteration is feasible without moving and the
!> optimisation step finds no gain above one merit tolerance.  A run that was feasible at least
!> once and runs out of iterations returns the best feasible iterate (RESULT_MATCHED); one that
!> never became feasible within the correction budget returns its last point (RESULT_NOT_MATCHED).
module optgra_driver
   use optgra_kinds
   use optgra_state, only: engine_state, state_start_run, forget_last_step
   use optgra_problem, only: start_point, raw_point, violated, total_violation, directional_derivatives
   use optgra_vector, only: norm
   use, intrinsic :: ieee_arithmetic, only: ieee_value, ieee_quiet_nan
   use optgra_evaluation, only: evaluate_values, evaluate_derivatives, limit_reached, remember_known_start, &
                                within_budget, difference_evaluations, use_central_differences
   use optgra_correction, only: correction_phase
   use optgra_optimisation, only: optimisation_phase
   use optgra_sensitivity, only: record_multipliers
   use optgra_log
   implicit none
   private

   public :: execute

   !> The step radius never shrinks below this fraction of max_distance.
   real(dp), parameter :: MIN_RADIUS_FRACTION = 1.0e-12_dp
   !> After an optimisation step from a feasible point, the correction must at least halve the
   !> violation at every linearisation until the point is feasible again.  If it does not, the
   !> step left the region where the constraints' linear model holds: it is taken back, and the
   !> radius shrinks to a quarter of its length.
   real(dp), parameter :: RECOVERY_RATE = 0.5_dp
   !> Until the first feasible point the correction is a trust-region method on the total
   !> violation v.  With rho = (v(origin) - v(reached)) / (v(origin) - v_lin(reached)), v_lin the
   !> violation of the constraints' linear model at the origin: a correction with v(reached) >
   !> v(origin) is taken back; one with rho < POOR_AGREEMENT shrinks the correction radius to the
   !> minimiser of the quadratic interpolating v along the move (see correction_accepted); one
   !> with rho >= GOOD_AGREEMENT that used the full radius doubles it (up to max_distance).
   real(dp), parameter :: POOR_AGREEMENT = 0.25_dp, GOOD_AGREEMENT = 0.75_dp
   !> A correction taken back on adaptive differences still forward ones, until its radius is
   !> this fraction of max_distance, may be misled by their error h f'' / 2 where the gradients
   !> vanish (HS 61 at x2 = x3 = 0, where x2^2 and x3^2 have the forward slope h): central ones
   !> from there, which see the degenerate point as it is.
   real(dp), parameter :: CENTRAL_RADIUS_FRACTION = 1.0e-3_dp
   !> At the optimum, constraints violated by more than this many tolerances (the step keeps the
   !> active ones to second order only) are corrected onto their boundary before the return.
   real(dp), parameter :: POLISH_BAND = 1.0e-3_dp
   !> Largest convergence rate (ratio of successive step gains) the convergence test believes:
   !> the tail r / (1 - r) of the gains to come makes the test at most a hundred times stricter
   !> (with the cap at 0.95, HS 49, a sextic, stopped 1.4e-6 short of its optimum).
   real(dp), parameter :: MAX_GAIN_RATIO = 0.99_dp

contains

   !> Optimise from x_raw.  On return x_raw is the result, y_raw the raw outputs there (engine
   !> order), result the RESULT_* code and iterations the number of linearisations.  info is
   !> STATUS_OK unless the run was stopped by a callback or invalid data (then x_raw is the last
   !> point reached).  A run stopped by its fitness-call budget ends as if out of iterations
   !> (RESULT_MATCHED with the best feasible iterate, or RESULT_NOT_MATCHED); one stopped by its
   !> deadline returns RESULT_TIMEOUT with the best feasible iterate, or else the last linearised
   !> point (y_raw is NaN when not even the start could be evaluated).
   subroutine execute(st, x_raw, y_raw, result, iterations, info)
      type(engine_state), intent(inout), target :: st
      real(dp), intent(inout) :: x_raw(:)
      real(dp), intent(out) :: y_raw(:)
      integer, intent(out) :: result, iterations, info
      real(dp), allocatable :: x_best(:), c_best(:), raw_best(:), step_origin(:)
      real(dp), allocatable :: x_linearised(:), raw_linearised(:), correction_origin(:)
      ! where the run converged on forward differences, being confirmed on central ones
      real(dp), allocatable :: x_converged(:)
      real(dp) :: origin_merit, origin_violation
      logical :: judging, correcting, escaped, stuck
      real(dp) :: violation, distance, old_mean, mean_distance, mean_merit
      integer :: k, first_feasible, divergence, stagnation, weight, guard, recovery
      real(dp) :: recovery_violation, last_gain, last_ratio
      integer :: max_iterations, max_correction, max_optimisation, max_divergence, max_stagnation
      logical :: finished
      character(len=160) :: line

      result = RESULT_NOT_MATCHED
      iterations = 0
      y_raw = 0.0_dp
      call state_start_run(st, .false., info)
      if (info /= STATUS_OK) return

      associate (p => st%problem, mem => st%memory, m => st%problem%m)
         max_iterations = max(p%max_iterations, 0)
         max_correction = min(p%max_correction_iterations, max_iterations)
         max_optimisation = min(p%max_optimisation_iterations, max_iterations)
         max_divergence = min(p%max_divergence_iterations, max_correction)
         max_stagnation = min(p%max_stagnation_iterations, max_optimisation)

         call start_point(p, x_raw, st%x)
         call remember_known_start(p, st%evaluator, x_raw, st%x)
         call forget_last_step(mem)
         mem%previous_gradient = 0.0_dp
         mem%step_curvature = 0.0_dp
         mem%pairs = 0
         mem%newest_pair = 0
         mem%reference_point = st%x
         mem%radius = p%max_distance
         mem%gain_ratio = 0.0_dp
         last_gain = 0.0_dp
         last_ratio = 0.0_dp
         judging = .false.
         correcting = .false.
         escaped = .false.
         origin_merit = 0.0_dp
         origin_violation = 0.0_dp
         step_origin = st%x
         correction_origin = st%x
         x_best = st%x
         c_best = st%c
         raw_best = y_raw
         x_linearised = st%x
         raw_linearised = spread(ieee_value(0.0_dp, ieee_quiet_nan), 1, m + 1)
         k = 0
         first_feasible = 0
         divergence = 0
         stagnation = 0
         recovery = 0
         recovery_violation = 0.0_dp
         mean_distance = 0.0_dp
         mean_merit = 0.0_dp

         do guard = 1, max_iterations + 1
            if (k >= max_correction .and. first_feasible == 0) then
               result = RESULT_NOT_MATCHED
               st%stop_reason = merge(STOP_CORRECTIONS, STOP_ITERATIONS, &
                                      p%max_correction_iterations <= max_iterations)
               exit
            end if
            if (k >= max_iterations .or. (first_feasible /= 0 .and. k - first_feasible >= max_optimisation - 1)) then
               result = RESULT_MATCHED
               st%stop_reason = STOP_ITERATIONS
               st%x = x_best
               exit
            end if
            k = k + 1
            ! The last move is judged by the values where it ended, before any derivative is
            ! taken there: one taken back costs no derivatives at either end (those at its
            ! origin, the last linearisation point, are still at hand).
            if (judging .or. correcting) then
               call evaluate_values(p, st%evaluator, st%x, st%c)
               if (st%evaluator%status /= STATUS_OK) exit
            end if
            if (judging) then
               judging = .false.
               if (.not. step_accepted()) then
                  ! Go back to where the step started, with a smaller radius.
                  st%x = step_origin
                  call forget_last_step(mem)
               end if
            else if (correcting) then
               correcting = .false.
               if (.not. correction_accepted()) then
                  st%x = correction_origin
                  if (st%evaluator%forward_differences .and. &
                      mem%correction_radius <= CENTRAL_RADIUS_FRACTION * p%max_distance) then
                     call use_central_differences(st%evaluator)
                     call log_message(st%log, 2, 'corrections taken back on forward differences: central ones from here')
                  end if
               end if
            end if
            call evaluate_derivatives(p, st%evaluator, st%log, st%x, st%c, st%jacobian)
            if (st%evaluator%status /= STATUS_OK) exit
            mem%previous_reference = merge(st%x, mem%reference_point, k == 1)
            mem%reference_point = st%x
            mem%reference_values = st%c
            x_linearised = st%x
            raw_linearised = st%evaluator%cached_outputs
            call log_iteration(st%log, k, raw_point(p, st%x), raw_linearised)
            mem%moved = 0.0_dp
            origin_violation = total_violation(p%kind(1:m), st%c(1:m), 1.0_dp)

            call correction_phase(st, finished, violation, distance)
            if (st%evaluator%status /= STATUS_OK) exit
            if (log_enabled(st%log, 2)) then
               write (line, '(a,i0,a,l1,a,es12.4,a,es16.8)') 'iteration ', k, ' feasible ', finished, &
                  ' violation ', violation, ' merit ', st%c(m + 1)
               call log_message(st%log, 2, line)
            end if
            if (.not. finished) then
               ! An iteration that cannot move would repeat itself: stop, unless an optimisation
               ! step led here; then take the step back, unless the step's predicted gain, scaled
               ! linearly to the shorter radius, is at most one tolerance (the wall the step hit
               ! is then about as close as the merit can resolve).
               if (mem%moved == 0.0_dp .and. first_feasible /= 0 .and. any(st%x /= step_origin)) then
                  call take_step_back()
                  if (mem%predicted_gain * mem%radius > mem%step_length) cycle
                  call log_message(st%log, 2, 'no gain of one tolerance left short of the wall: stop')
                  result = RESULT_MATCHED
                  st%stop_reason = STOP_WALL
                  st%x = x_best
                  exit
               end if
               ! Before the first feasible point, a correction that cannot move (or only by
               ! rounding: at the smallest radius, taken back every time) stands where the
               ! constraints' linearisation is degenerate (HS 61 at x2 = x3 = 0: two parallel
               ! gradients, and the variables that would separate them have zero derivatives
               ! there).  Once per run, one optimisation step on the objective, in the null
               ! space of the equalities it can hold, moves off that point.
               stuck = mem%moved == 0.0_dp .or. (first_feasible == 0 .and. &
                       mem%correction_radius <= MIN_RADIUS_FRACTION * p%max_distance)
               if (stuck .and. first_feasible == 0 .and. .not. escaped) then
                  escaped = .true.
                  call optimisation_phase(st, finished)
                  if (st%evaluator%status /= STATUS_OK) exit
                  if (any(st%x /= x_linearised)) then
                     call log_message(st%log, 2, 'correction cannot move: one optimisation step off the point')
                     call forget_last_step(mem)
                     mem%correction_radius = p%max_distance
                     cycle
                  end if
               end if
               if (stuck) then
                  result = merge(RESULT_NOT_MATCHED, RESULT_MATCHED, first_feasible == 0)
                  st%stop_reason = STOP_STUCK
                  if (first_feasible /= 0) st%x = x_best
                  exit
               end if
               call forget_last_step(mem)
               if (first_feasible /= 0) then
                  recovery = recovery + 1
                  if (recovery > 1 .and. (violation > RECOVERY_RATE * recovery_violation &
                                          .or. recovery > max_divergence)) then
                     call take_step_back()
                     cycle
                  end if
                  recovery_violation = violation
               else
                  correcting = .true.
                  correction_origin = x_linearised
               end if
               ! Diverging: the mean distance to feasibility grows over max_divergence iterations.
               divergence = divergence + 1
               weight = min(divergence, max_divergence)
               old_mean = mean_distance
               mean_distance = (mean_distance * (weight - 1) + distance) / weight
               if (divergence >= max_divergence .and. mean_distance > old_mean) then
                  result = RESULT_INFEASIBLE
                  st%stop_reason = STOP_DIVERGING
                  exit
               end if
               cycle
            end if
            divergence = 0
            recovery = 0
            ! Here st%c holds evaluated values at st%x: remember the best feasible iterate.
            if (first_feasible == 0 .or. st%c(m + 1) > c_best(m + 1)) then
               x_best = st%x
               c_best = st%c
               raw_best = st%evaluator%cached_outputs
            end if
            if (first_feasible == 0) then
               first_feasible = k
               mem%correction_radius = p%max_distance
            end if
            ! Stagnating: the running mean of the best merit decreases.
            stagnation = stagnation + 1
            weight = min(stagnation, max_stagnation)
            old_mean = mean_merit
            mean_merit = (mean_merit * (weight - 1) + c_best(m + 1)) / weight
            if (stagnation >= max_stagnation .and. mean_merit < old_mean) then
               result = RESULT_MATCHED
               st%stop_reason = STOP_STAGNATION
               st%x = x_best
               exit
            end if

            step_origin = st%x
            origin_merit = st%c(m + 1)
            call optimisation_phase(st, finished)
            if (st%evaluator%status /= STATUS_OK) exit
            judging = mem%step_length > 0.0_dp .and. mem%predicted_gain > 0.0_dp
            if (.not. finished .or. mem%moved /= 0.0_dp) cycle
            if (confirm_centrally()) cycle
            result = RESULT_OPTIMAL
            st%stop_reason = STOP_CONVERGED
            call record_multipliers(st)
            call polish()
            exit
         end do
         iterations = k
         if (st%evaluator%status == STATUS_OK) then
            ! Outputs at the result: the best iterate's are known; any other point was evaluated
            ! last unless the run ended after a move that was never evaluated.
            if (result == RESULT_MATCHED .and. all(st%x == x_best)) then
               y_raw = raw_best
            else
               call evaluate_values(p, st%evaluator, st%x, st%c)
               y_raw = st%evaluator%cached_outputs
            end if
         end if
         if (limit_reached(st%evaluator)) then
            if (first_feasible /= 0) then
               st%x = x_best
               y_raw = raw_best
            else
               st%x = x_linearised
               y_raw = raw_linearised
            end if
            ! The budget ends the run even where another exit was about to (out of iterations,
            ! stuck, at a wall): only the best point's outputs could not be had without it.  A
            ! run that converged on forward differences, and found nothing better while the
            ! budget lasted, keeps that verdict (its multipliers were recorded there).
            if (allocated(x_converged) .and. result /= RESULT_OPTIMAL) then
               if (all(st%x == x_converged)) then
                  result = RESULT_OPTIMAL
                  st%stop_reason = STOP_CONVERGED
               end if
            end if
            if (result /= RESULT_OPTIMAL) then
               result = merge(RESULT_MATCHED, RESULT_NOT_MATCHED, first_feasible /= 0)
               st%stop_reason = STOP_EVALUATIONS
            end if
            select case (st%evaluator%status)
            case (STATUS_DEADLINE)
               result = RESULT_TIMEOUT
               st%stop_reason = STOP_TIMEOUT
            case (STATUS_NONFINITE_POINT)
               ! A step beyond the floating-point range (constraint derivatives some 1e-150 of
               ! their tolerances): a move that cannot be made.
               call log_message(st%log, 2, 'the next point is not finite: stop where the run stood')
               if (result /= RESULT_OPTIMAL) st%stop_reason = STOP_STUCK
            end select
            st%evaluator%status = STATUS_OK
         end if
         x_raw = raw_point(p, st%x)
         info = st%evaluator%status
         if (info /= STATUS_OK) return
         if (log_enabled(st%log, 1)) then
            write (line, '(a,i0,a,i0,a,i0,a,i0,a)') 'result ', result, ' after ', k, ' iterations, ', &
               st%evaluator%fitness_calls, ' fitness calls, ', st%evaluator%gradient_calls, ' gradient calls'
            call log_message(st%log, 1, line)
         end if
      end associate

   contains

      !> Within its tolerances the optimum may still violate constraints, and a maximised merit
      !> profits from that slack; or it may hold an active inequality anywhere inside its band,
      !> short of the boundary the merit pushes it to.  One more correction with the last
      !> derivatives, the active set held on its boundary, brings every constraint within
      !> POLISH_BAND tolerances and the active ones onto their boundary; the point is kept only if
      !> that succeeds.
      subroutine polish()
         real(dp) :: x_kept(st%problem%n), c_kept(st%problem%m + 1), polish_violation, polish_distance
         logical :: polished

         associate (m => st%problem%m, c => st%c)
            if (.not. any(violated(st%problem%kind(1:m), c(1:m), POLISH_BAND) .or. &
                          (st%memory%previous_status > 0 .and. abs(c(1:m)) > POLISH_BAND))) return
         end associate
         x_kept = st%x
         c_kept = st%c
         st%memory%moved = 0.0_dp
         call correction_phase(st, polished, polish_violation, polish_distance, POLISH_BAND)
         if (st%evaluator%status /= STATUS_OK) return
         if (.not. polished) then
            st%x = x_kept
            st%c = c_kept
         end if
         if (log_enabled(st%log, 2)) then
            write (line, '(a,l1,a,es16.8)') 'polished ', polished, ' merit ', st%c(st%problem%m + 1)
            call log_message(st%log, 2, line)
         end if
      end subroutine polish

      !> A run that converged on adaptive differences still forward ones is judged once more
      !> at the same point on central ones, when its budgets allow that iteration and the
      !> stencil's backward side (as many points as the forward side, which is known): the
      !> forward ones' error, about h |f''| / 2, is the size of the merit gradient near a
      !> solution.
      logical function confirm_centrally() result(confirm)
         associate (p => st%problem, ev => st%evaluator)
            confirm = ev%forward_differences .and. k < max_iterations .and. &
                      k - first_feasible < max_optimisation - 1 .and. &
                      within_budget(ev, difference_evaluations(p, ev))
            if (.not. confirm) return
            x_converged = st%x
            call record_multipliers(st)
            call use_central_differences(ev)
            call log_message(st%log, 2, 'converged on forward differences: again on central ones')
         end associate
      end function confirm_centrally

      !> Return to the feasible point the last optimisation step started from, with the radius
      !> a quarter of that step's length.
      subroutine take_step_back()
         associate (mem => st%memory, p => st%problem)
            st%x = step_origin
            mem%radius = max(0.25_dp * mem%step_length, MIN_RADIUS_FRACTION * p%max_distance)
            call forget_last_step(mem)
            recovery = 0
            divergence = 0
            mean_distance = 0.0_dp
            if (log_enabled(st%log, 2)) then
               write (line, '(a,es11.3)') 'no feasible point near the step: back, radius ', mem%radius
               call log_message(st%log, 2, line)
            end if
         end associate
      end subroutine take_step_back

      !> Total violation of the constraints' linear model about the last linearisation point,
      !> c + G^T (x - x_linearised), at st%x (the values and derivatives there are still at hand
      !> when a correction from it is judged).
      real(dp) function linear_violation() result(v)
         real(dp) :: c_linear(st%problem%m + 1)

         associate (p => st%problem, m => st%problem%m)
            c_linear = st%memory%reference_values + directional_derivatives(p, st%jacobian, &
                                                   st%x - x_linearised, [spread(.true., 1, m), .false.])
            v = total_violation(p%kind(1:m), c_linear(1:m), 1.0_dp)
         end associate
      end function linear_violation

      !> Judge the last correction (from correction_origin, before the first feasible point) by
      !> the total violation at the point it reached, st%c, against the linear model's
      !> prediction: see POOR_AGREEMENT.
      logical function correction_accepted() result(accepted)
         real(dp) :: reached, move, predicted_gain, agreement

         associate (mem => st%memory, p => st%problem, m => st%problem%m)
            reached = total_violation(p%kind(1:m), st%c(1:m), 1.0_dp)
            move = norm(st%x - correction_origin)
            predicted_gain = origin_violation - linear_violation()
            agreement = 0.0_dp
            if (predicted_gain > 0.0_dp) agreement = (origin_violation - reached) / predicted_gain
            accepted = reached <= origin_violation
            if (accepted .and. predicted_gain <= 0.0_dp) then
               ! The chord passes walked from re-evaluated values to where the origin's model
               ! predicts no gain: that model cannot judge the move.
               continue
            else if (agreement < POOR_AGREEMENT) then
               ! The minimiser of the quadratic through v(origin), its slope -predicted_gain and
               ! v(reached) along the move lies at 1 / (2 (1 - rho)) of it: 0.5 to 0.67 of the
               ! move for 0 <= rho < 1/4 (capped at 0.5), less for a move that lost.
               mem%correction_radius = max(min(0.5_dp, max(0.1_dp, 0.5_dp / (1.0_dp - agreement))) * move, &
                                           MIN_RADIUS_FRACTION * p%max_distance)
            else if (agreement >= GOOD_AGREEMENT .and. move > 0.9_dp * mem%correction_radius) then
               mem%correction_radius = min(2.0_dp * mem%correction_radius, p%max_distance)
            end if
            if (log_enabled(st%log, 2)) then
               write (line, '(a,es16.8,a,es16.8,a,es11.3,a,l1,a,es11.3)') 'correction violation ', reached, &
                  ' from ', origin_violation, ' agreement ', agreement, ' accepted ', accepted, &
                  ' radius ', mem%correction_radius
               call log_message(st%log, 2, line)
            end if
         end associate
      end function correction_accepted

      !> Compare the merit gain of the last optimisation step with its model's prediction.  A
      !> step that gains less than a tenth of the prediction shrinks the radius to a quarter of
      !> the step, and is rejected when it lost merit; one that achieved three quarters of the
      !> prediction at the full radius doubles the radius again.
      logical function step_accepted() result(accepted)
         real(dp) :: gain, ratio

         associate (mem => st%memory, p => st%problem)
            gain = st%c(p%m + 1) - origin_merit
            accepted = .true.
            ! The recent convergence rate, for the convergence test's tail estimate: the larger
            ! of the last two ratios of successive gains (one ratio alone is noisy).
            ratio = 0.0_dp
            if (gain > 0.0_dp .and. last_gain > 0.0_dp) ratio = min(gain / last_gain, MAX_GAIN_RATIO)
            mem%gain_ratio = max(ratio, last_ratio)
            last_ratio = ratio
            last_gain = max(gain, 0.0_dp)
            if (gain < 0.1_dp * mem%predicted_gain) then
               mem%radius = max(0.25_dp * mem%step_length, MIN_RADIUS_FRACTION * p%max_distance)
               accepted = gain > 0.0_dp
            else if (gain > 0.75_dp * mem%predicted_gain .and. mem%step_length > 0.9_dp * mem%radius) then
               mem%radius = min(2.0_dp * mem%radius, p%max_distance)
            end if
            if (log_enabled(st%log, 2)) then
               write (line, '(a,es11.3,a,es11.3,a,l1,a,es11.3)') 'step gain ', gain, ' predicted ', &
                  mem%predicted_gain, ' accepted ', accepted, ' radius ', mem%radius
               call log_message(st%log, 2, line)
            end if
         end associate
      end function step_accepted

   end subroutine execute

end module optgra_driver
