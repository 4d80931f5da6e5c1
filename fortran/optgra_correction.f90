!> Correction phase: restore feasibility with the derivatives of the reference point (chord method).
!>
!> At priority level l, minimum-norm moves first take the violated equalities of priority <= l
!> towards the zero of their linearisation (equality_moves).  Then the linearised violation is
!>     phi(x) = - sum_j dir_j c_j <= 0,   dir_j = -1 for c_j < 0, +1 for an equality with c_j > 0,
!> over the constraints of priority <= l, and the walk follows h = grad phi projected onto the null
!> space of the active set, stopping wherever a further constraint reaches its boundary; a
!> constraint on its boundary that the direction would violate is included in the active set, an
!> active inequality whose multiplier says the walk would leave it anyway is released.  When the
!> linear model is feasible at every level the outputs are re-evaluated (values only) and the walk
!> starts again with the same derivatives, at most MAX_CHORD_PASSES times, and only while the
!> passes converge fast enough to beat the cost of a new linearisation.
module optgra_correction
   use optgra_kinds
   use optgra_vector, only: dot, norm, all_finite
   use optgra_state, only: engine_state, MODE_OPTIMISE
   use optgra_problem, only: violated, total_violation, directional_derivatives, is_bound_row, &
                             clip_to_box, directional_derivative, add_gradient
   use optgra_active_set
   use optgra_evaluation, only: evaluate_values, difference_evaluations
   use optgra_steps, only: ball_step
   use optgra_log
   implicit none
   private

   public :: correction_phase, measure_violation

   integer, parameter :: MAX_CHORD_PASSES = 10
   !> A new linearisation is worth this many chord passes with the user's derivatives, and at
   !> least this many by differences (else the stencil's evaluations): the correction stops (and
   !> the driver relinearises) when the passes' contraction rate needs more further passes than
   !> that to bring the violation down to one tolerance.
   real(dp), parameter :: RELINEARISATION_PASSES = 8.0_dp
   !> A violation farther than this many radii away (in the linear model) is hopeless.
   real(dp), parameter :: HOPELESS_RADII = 1000.0_dp
   !> A constraint hit or included this often in one walk means the walk is cycling.
   integer, parameter :: MAX_REPEATS = 20

   integer, parameter :: WALK_FEASIBLE = 1, WALK_HOPELESS = 2, WALK_RADIUS = 3, WALK_FAILED = 4
   !> equality_moves: done, the walk goes on.
   integer, parameter :: WALK_ON = 0

contains

   !> Total violation and linear distance to feasibility (sum |c_j| / |G_j|) of the constraints
   !> violated by more than band tolerances.  unsatisfiable > 0 names a violated constraint whose
   !> gradient over the free variables is zero.
   pure subroutine measure_violation(kind, c, gradient_norm, band, violation, distance, unsatisfiable)
      integer, intent(in) :: kind(:)
      real(dp), intent(in) :: c(:), gradient_norm(:), band
      real(dp), intent(out) :: violation, distance
      integer, intent(out) :: unsatisfiable
      integer :: j

      violation = total_violation(kind, c, band)
      distance = 0.0_dp
      unsatisfiable = 0
      do j = 1, size(kind)
         if (.not. violated(kind(j), c(j), band)) cycle
         if (gradient_norm(j) == 0.0_dp) then
            unsatisfiable = j
         else
            distance = distance + abs(c(j)) / gradient_norm(j)
         end if
      end do
   end subroutine measure_violation

   !> Move st%x (with the linear predictions st%c) towards feasibility.  finished is set when
   !> every constraint is within band tolerances (default one) at an evaluated point; the walk
   !> itself aims at the boundary band.
   subroutine correction_phase(st, finished, violation, distance, band)
      type(engine_state), intent(inout), target :: st
      logical, intent(out) :: finished
      real(dp), intent(out) :: violation, distance
      real(dp), intent(in), optional :: band
      integer :: priority(st%problem%m), kind(st%problem%m + 1)
      logical :: held(st%problem%m)
      real(dp) :: x_start(st%problem%n), c_start(st%problem%m + 1), zero(st%problem%n), accepted_band
      integer :: m, lowest, highest, chord, max_chord, attempt, outcome, unsatisfiable, guard, try, j
      real(dp) :: previous_violation, pass_violation
      logical :: last_pass_reduced
      character(len=120) :: line

      m = st%problem%m
      zero = 0.0_dp
      accepted_band = 1.0_dp
      if (present(band)) accepted_band = band
      ! A linear update has one pass on its linear model, in which the held constraints may be
      ! released once.
      max_chord = merge(MAX_CHORD_PASSES, 2, st%sensitivity_mode == MODE_OPTIMISE)
      ! Constraints active at the end of the last optimisation step are restored first, held on
      ! their boundary, at a priority of their own below all others.
      held = st%memory%previous_status > 0 .and. st%problem%kind(1:m) /= TYPE_IGNORED
      priority = st%problem%priority(1:m)
      lowest = minval(priority, mask=st%problem%kind(1:m) /= TYPE_IGNORED)
      highest = maxval(priority, mask=st%problem%kind(1:m) /= TYPE_IGNORED)
      if (all(st%problem%kind(1:m) == TYPE_IGNORED)) then
         lowest = 1
         highest = 1
      end if
      if (any(held)) then
         lowest = lowest - 1
         where (held) priority = lowest
      end if
      ! The box at the lowest level, so that no move of the walk crosses a bound: bound rows
      ! are linear and can be kept exactly, and the functions may be undefined outside the box.
      where (is_bound_row(st%problem, [(j, j = 1, m)])) priority = lowest

      finished = .false.
      chord = 0
      previous_violation = -1.0_dp
      last_pass_reduced = .true.
      chords: do guard = 1, 2 * (MAX_CHORD_PASSES + 1)
         x_start = st%x
         c_start = st%c
         attempt = merge(1, 2, any(held))
         attempts: do try = 1, 2
            st%x = x_start
            st%c = c_start
            kind = st%problem%kind
            if (attempt == 1) where (held) kind(1:m) = TYPE_EQUALITY
            ! Nothing violated: done, without a factorisation (an O(m n) reset at every iteration
            ! of a run whose constraints stay satisfied; the gradients' norms serve violated ones).
            if (total_violation(kind(1:m), st%c(1:m), accepted_band) == 0.0_dp) then
               violation = 0.0_dp
               distance = 0.0_dp
               finished = .true.
               return
            end if
            call factor_reset(st%factor, st%jacobian, kind, zero, zero)
            call measure_violation(kind(1:m), st%c(1:m), st%factor%norm(1:m), accepted_band, &
                                   violation, distance, unsatisfiable)
            if (unsatisfiable > 0) then
               write (line, '(a,i0,a,es12.4)') 'constraint ', unsatisfiable, &
                  ' cannot be satisfied: zero gradient over the free variables, value ', &
                  st%c(unsatisfiable)
               call log_message(st%log, 1, line)
               return
            end if
            if (chord >= max_chord) return
            if (try == 1) then
               ! The passes' progress, on the problem's own constraints (held ones released).
               pass_violation = total_violation(st%problem%kind(1:m), st%c(1:m), accepted_band)
               if (slow_chord(previous_violation, pass_violation, last_pass_reduced)) then
                  write (line, '(a,es12.4,a,es12.4)') 'chord passes too slow: violation ', pass_violation, &
                     ' after ', previous_violation
                  call log_message(st%log, 3, line)
                  return
               end if
               if (previous_violation >= 0.0_dp) last_pass_reduced = pass_violation < previous_violation
               previous_violation = pass_violation
            end if
            chord = chord + 1
            call walk(st, kind, priority, lowest, highest, outcome)
            ! The moves stop on the bounds they reach; rounding may leave x a few ulps outside.
            st%x = clip_to_box(st%problem, st%x)
            select case (outcome)
            case (WALK_FEASIBLE)
               ! A linear update keeps to the linear model: no evaluation.
               if (st%sensitivity_mode == MODE_OPTIMISE) &
                  call evaluate_values(st%problem, st%evaluator, st%x, st%c)
               if (st%evaluator%status /= STATUS_OK) return
               exit attempts
            case (WALK_HOPELESS, WALK_RADIUS)
               if (attempt == 2) return
               attempt = 2
            case default
               return
            end select
         end do attempts
      end do chords

   contains

      !> True when further chord passes are not worth a new linearisation (optimisation mode,
      !> not the final polish, which does not relinearise): at the rate rho = violation /
      !> previous of the last pass, the violation would need log(violation) / log(1 / rho) more
      !> passes to reach one tolerance, against a linearisation worth RELINEARISATION_PASSES
      !> passes, or as many as its difference stencil has evaluations if more.  No judgement
      !> before the first pass, after one that did not reduce the violation, nor right after
      !> such a pass (the first reduction after an overshoot says little of the rate; cut there,
      !> the driver is left at a linearisation whose model predicts no gain: HS 63 from its
      !> third benchmark start then walked into the box corner (0, 4, 0)).
      logical function slow_chord(previous, violation, previous_reduced)
         real(dp), intent(in) :: previous, violation
         logical, intent(in) :: previous_reduced
         real(dp) :: rate, worth
         slow_chord = .false.
         if (previous <= 0.0_dp .or. violation <= 1.0_dp .or. .not. previous_reduced) return
         if (st%sensitivity_mode /= MODE_OPTIMISE .or. present(band)) return
         worth = max(RELINEARISATION_PASSES, real(difference_evaluations(st%problem, st%evaluator), dp))
         rate = violation / previous
         if (rate < 1.0_dp) slow_chord = log(violation) > worth * log(1.0_dp / rate)
      end function slow_chord
   end subroutine correction_phase

   !> One linearised walk through the priority levels.
   subroutine walk(st, kind, priority, lowest, highest, outcome)
      type(engine_state), intent(inout), target :: st
      integer, intent(in) :: kind(:), priority(:), lowest, highest
      integer, intent(out) :: outcome
      integer :: direction(st%problem%m), hits(st%problem%m), inclusions(st%problem%m)
      real(dp) :: h(st%problem%n), d(st%problem%n), phi, step, rate, best, effective, pnorm
      real(dp), allocatable :: mu(:)
      integer :: m, n, level, j, i, hit, pick, move, refine, aux
      logical :: accepted

      m = st%problem%m
      n = st%problem%n
      aux = m + 2
      pnorm = 0.0_dp
      hits = 0
      inclusions = 0
      outcome = WALK_FAILED
      associate (f => st%factor, g => st%jacobian, max_distance => st%problem%max_distance)
         levels: do level = lowest, highest
            call equality_moves(st, kind, priority, level, hits, outcome)
            if (outcome /= WALK_ON) return
            outcome = WALK_FAILED
            moves: do move = 1, MAX_REPEATS * (m + 1)
               ! Classify the constraints that are not active at this level.
               call classify_at_level(f, kind, priority, level, st%c)
               direction = 0
               do j = 1, m
                  if (f%status(j) > 0 .or. kind(j) == TYPE_IGNORED) cycle
                  if (priority(j) <= level) then
                     if (st%c(j) < -BOUNDARY_BAND) direction(j) = -1
                     if (kind(j) == TYPE_EQUALITY .and. st%c(j) > BOUNDARY_BAND) direction(j) = 1
                  end if
               end do
               phi = -sum(direction * st%c(1:m))
               h = 0.0_dp
               f%r(:, aux) = 0.0_dp
               do j = 1, m
                  if (direction(j) == 0) cycle
                  call add_gradient(st%problem, g, j, -real(direction(j), dp), h)
                  call factor_refresh(f, j)
                  f%r(:, aux) = f%r(:, aux) - direction(j) * f%r(:, j)
               end do

               refining: do refine = 1, 2 * MAX_REPEATS * (m + 1)
                  pnorm = null_norm(f, aux)
                  mu = multipliers(f, aux)
                  ! Release the active inequality with the largest positive multiplier.
                  pick = 0
                  best = MULTIPLIER_ZERO
                  do i = 1, f%count
                     if (kind(f%list(i)) /= TYPE_EQUALITY .and. mu(i) > best) then
                        best = mu(i)
                        pick = i
                     end if
                  end do
                  if (pick > 0) then
                     j = f%list(pick)
                     call factor_exclude(f, pick)
                     if (inclusions(j) >= MAX_REPEATS) return
                     cycle refining
                  end if
                  if (phi == 0.0_dp .or. phi < -pnorm * HOPELESS_RADII * max_distance) exit refining
                  ! Include the boundary constraint that the direction violates fastest.
                  pick = 0
                  best = 0.0_dp
                  do j = 1, m
                     if (f%status(j) /= STATUS_CANDIDATE .or. priority(j) > level) cycle
                     rate = null_dot(f, j, aux)
                     if (abs(rate) * max_distance < SIGNIFICANT_CHANGE * pnorm) cycle
                     effective = rate / f%norm(j)
                     if (kind(j) == TYPE_EQUALITY .and. direction(j) == 0) effective = -abs(effective)
                     if (effective < best) then
                        best = effective
                        pick = j
                     end if
                  end do
                  if (pick == 0) exit refining
                  call factor_include(f, pick, accepted)
                  if (.not. accepted) then
                     f%status(pick) = STATUS_PASSIVE
                  else
                     inclusions(pick) = inclusions(pick) + 1
                  end if
               end do refining

               if (phi == 0.0_dp) then
                  if (level == highest) outcome = WALK_FEASIBLE
                  exit moves
               end if
               if (pnorm == 0.0_dp .or. phi < -pnorm * HOPELESS_RADII * max_distance) then
                  outcome = WALK_HOPELESS
                  return
               end if

               ! Unit direction d = (h - sum mu_i g_{a_i}) / |p|, up to the ball or the first hit.
               d = (h - active_combination(f, g, mu)) / pnorm
               step = ball_step(st%x - st%memory%reference_point, d, st%memory%correction_radius)
               call move_to_first_hit(st, d, 1.0_dp, step, hit)
               if (hit == 0) then
                  outcome = WALK_RADIUS
                  return
               end if
               st%c(hit) = 0.0_dp
               hits(hit) = hits(hit) + 1
               if (hits(hit) >= MAX_REPEATS) return
            end do moves
            if (move > MAX_REPEATS * (m + 1)) return
         end do levels
      end associate
   end subroutine walk

   !> x <- x + step d, with step (on entry its limit) shortened to where the first passive
   !> constraint's linear model c_j + step g_j . d reaches zero (hit, else 0); the outputs that
   !> are not active follow their linear model, and moved grows by step |d| (length = |d|).
   subroutine move_to_first_hit(st, d, length, step, hit)
      type(engine_state), intent(inout), target :: st
      real(dp), intent(in) :: d(:), length
      real(dp), intent(inout) :: step
      integer, intent(out) :: hit
      real(dp) :: slope(st%problem%m + 1), t
      logical :: moving(st%problem%m + 1)
      integer :: j, m

      m = st%problem%m
      associate (f => st%factor)
         moving = [f%status(1:m) <= 0 .and. f%status(1:m) /= STATUS_IGNORED, .true.]
         slope = directional_derivatives(st%problem, st%jacobian, d, moving)
         hit = 0
         do j = 1, m
            if (f%status(j) /= STATUS_PASSIVE .or. slope(j) == 0.0_dp) cycle
            t = -st%c(j) / slope(j)
            if (t > 0.0_dp .and. t < step) then
               step = t
               hit = j
            end if
         end do
         st%x = st%x + step * d
         st%memory%moved = st%memory%moved + step * length
         where (moving) st%c = st%c + step * slope
      end associate
   end subroutine move_to_first_hit

   !> Status of the constraints not active at a level: candidates when on their boundary (within
   !> the band) and at or below the level, else passive (stops of the moves only).
   subroutine classify_at_level(f, kind, priority, level, c)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: kind(:), priority(:), level
      real(dp), intent(in) :: c(:)
      integer :: j

      do j = 1, size(priority)
         if (f%status(j) > 0 .or. kind(j) == TYPE_IGNORED) cycle
         if (priority(j) > level .or. abs(c(j)) > BOUNDARY_BAND) then
            f%status(j) = STATUS_PASSIVE
         else
            f%status(j) = STATUS_CANDIDATE
         end if
      end do
   end subroutine classify_at_level

   !> Minimum-norm (Gauss-Newton) moves onto the linearised equalities of a level, before its walk:
   !>     d = -A^T (A A^T)^{-1} c_A,
   !> A the active gradients (the level's equalities first, in index order, then any inequality
   !> the moves hold), c_A their values.  The first move includes every equality at once, so
   !> linear equalities reuse the factorisation of the last optimisation step.  The walk of
   !> SPEC 3.5 would reach them one per move at O(m n) each, along the steepest descent of the
   !> summed violation, which weighs each variable by the size of its derivatives: on HS 74 from
   !> a random start its moves in the strongly curved variables shrank the radius to 3e-3, and it
   !> then crept along the weakly weighted ones by 1e-3 per iteration, never reaching feasibility.
   !> A move stops at the first passive constraint it reaches or at the radius; a candidate
   !> inequality that d would violate is held on its boundary (included) and d recomputed.  On
   !> return (outcome WALK_ON) the equalities are active and zero in the linear model, and the
   !> walk goes on with the inequalities.
   subroutine equality_moves(st, kind, priority, level, hits, outcome)
      type(engine_state), intent(inout), target :: st
      integer, intent(in) :: kind(:), priority(:), level
      integer, intent(inout) :: hits(:)
      integer, intent(out) :: outcome
      real(dp) :: d(st%problem%n), step, dn, rate, best
      logical :: accepted
      integer, allocatable :: equalities(:), own(:)
      integer :: m, j, hit, pick, move

      m = st%problem%m
      outcome = WALK_ON
      associate (f => st%factor, g => st%jacobian, c => st%c, max_distance => st%problem%max_distance)
         ! The level's equalities that are not active yet; nothing to do unless one is violated.
         equalities = pack([(j, j = 1, m)], [(kind(j) == TYPE_EQUALITY .and. priority(j) <= level &
                                             .and. f%status(j) <= 0, j = 1, m)])
         ! The problem's own equalities first, as the optimisation step includes them.
         own = pack(equalities, st%problem%kind(equalities) == TYPE_EQUALITY)
         if (.not. any(abs(c(equalities)) > BOUNDARY_BAND)) return
         call classify_at_level(f, kind, priority, level, c(1:m))
         call factor_include_all(f, own, g)
         do j = 1, size(equalities)
            if (f%status(equalities(j)) > 0) cycle
            call factor_include(f, equalities(j), accepted)
            if (.not. accepted) f%status(equalities(j)) = STATUS_PASSIVE
         end do
         do move = 1, MAX_REPEATS * (m + 1)
            ! d with A d = -c_A and d in the row space of A.
            d = active_combination(f, g, backward_solve(f, forward_solve(f, -c(f%list(1:f%count)))))
            dn = norm(d)
            if (dn == 0.0_dp) return
            ! A d beyond the floating-point range (gradients of norm ~1e-150 against violations of
            ! ~1e9 tolerances) cannot be stepped along.
            if (.not. all_finite(d)) then
               outcome = WALK_HOPELESS
               return
            end if
            ! Hold the candidate inequality that d violates fastest, then recompute d.
            pick = 0
            best = 0.0_dp
            do j = 1, m
               if (f%status(j) /= STATUS_CANDIDATE .or. kind(j) == TYPE_EQUALITY) cycle
               if (priority(j) > level) cycle
               rate = directional_derivative(st%problem, g, j, d) / dn
               if (rate * max_distance > -SIGNIFICANT_CHANGE) cycle
               if (rate / f%norm(j) < best) then
                  best = rate / f%norm(j)
                  pick = j
               end if
            end do
            if (pick > 0) then
               call factor_include(f, pick, accepted)
               if (.not. accepted) f%status(pick) = STATUS_PASSIVE
               cycle
            end if
            ! Up to the zero of the active values (t = 1), the correction radius, or the first
            ! passive hit.
            step = min(1.0_dp, ball_step(st%x - st%memory%reference_point, d, st%memory%correction_radius))
            call move_to_first_hit(st, d, dn, step, hit)
            ! g_a . d = -c_a for the active outputs.
            c(f%list(1:f%count)) = (1.0_dp - step) * c(f%list(1:f%count))
            if (hit > 0) then
               c(hit) = 0.0_dp
               f%status(hit) = STATUS_CANDIDATE
               hits(hit) = hits(hit) + 1
               if (hits(hit) >= MAX_REPEATS) then
                  outcome = WALK_FAILED
                  return
               end if
            else if (step < 1.0_dp) then
               outcome = WALK_RADIUS
               return
            else
               return
            end if
         end do
         outcome = WALK_FAILED
      end associate
   end subroutine equality_moves

end module optgra_correction
