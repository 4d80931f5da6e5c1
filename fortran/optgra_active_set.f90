!> Active-set factorisation.
!>
!> Column j of r holds the reduced gradient Q g_j of output j (constraints 1..m, merit m+1, and
!> two auxiliary vectors m+2, m+3), where Q is the product of the orthogonal transformations
!> applied so far.  With the active list a_1..a_k, column a_i is zero below row i, so
!>     L(i, c) = r(c, a_i),  c <= i,
!> is lower triangular and A = L Q_1 for the active gradients A (k x n).  For any other column:
!>   - rows k+1..n are its component in the null space of A (the projected vector, in Q basis);
!>   - mu = L^{-T} r(1:k, j) are its least-squares coefficients on the active gradients, so that
!>     g_j = sum_i mu_i g_{a_i} + p_j with p_j orthogonal to every active gradient.
!> Q itself is never formed: physical vectors are rebuilt from the unreduced gradients.
!>
!> Columns are reduced lazily.  The transformations since the reset (row swaps with Householder
!> reflections for inclusions, rotations for exclusions) are recorded; they are applied at once
!> to the columns that are active, candidates, or the auxiliary ones, and replayed on a passive
!> column only when it is read (factor_refresh).  Passive columns are most of them (the bound rows
!> far from their bounds), and the callers test them with physical directional derivatives.
!> A bound row's column (one non-zero, constant during a run) is not even copied into r until it
!> is first read.
!>
!> While every transformation is a row swap or a rotation by a quarter turn (only bound rows and
!> other single-non-zero gradients included or excluded), Q is a signed permutation,
!>     (Q x)(p) = sign(p) x(origin(p)),
!> which is tracked (f%permutation): a single-non-zero column is then written directly at
!> position(row) instead of replaying the record, and including one is O(1) (no search for the
!> pivot, no scan of the eager columns: the candidates' columns pick the swap up when read).
!>
!> factor_include_all includes a list of outputs in order (the equalities).  Many of them are
!> factorised by panels (include_blocked): the same transformations and record as one at a time,
!> but reaching the later columns through matrix products.  Its result is kept, and the next
!> call with the same outputs and bitwise the same gradients restores it instead of recomputing
!> it: linear constraints are factorised once per run.  The cache is written and restored in
!> the storage already there (nothing is reallocated, so no fresh memory is mapped), and the
!> restore does not copy the transformations while the record still holds them from the last
!> time (op_record%cached).
module optgra_active_set
   use optgra_kinds
   use optgra_vector, only: dot, norm
   use optgra_blas, only: blas_kernels, gemm, trmm
   implicit none
   private

   public :: factorisation, factor_allocate, factor_reset, factor_include, factor_exclude
   public :: null_norm, null_dot, multipliers, forward_solve, backward_solve, active_combination
   public :: factor_refresh, factor_include_all, null_projection

   !> Relative size below which a gradient is taken as dependent on the active ones.
   real(dp), parameter :: DEPENDENCE_TOLERANCE = 1.0e-10_dp

   integer, parameter :: OP_REFLECT = 1, OP_ROTATE = 2

   !> factor_include_all factorises by panels of PANEL_WIDTH columns when it has at least
   !> BLOCKED_MINIMUM columns to include (fewer go one at a time).
   integer, parameter :: PANEL_WIDTH = 32, BLOCKED_MINIMUM = 64

   !> The transformations since the reset.  Transformation i (1..count): OP_REFLECT swaps rows
   !> row and pivot, then reflects rows row..last by I - scale v v^T,
   !> v = vector(start+1 : start+last-row+1); OP_ROTATE rotates rows row, row+1 by (cos, sin).
   type :: op_record
      integer :: count = 0
      integer, allocatable :: kind(:), row(:), pivot(:), last(:), start(:)
      real(dp), allocatable :: scale(:), cos(:), sin(:), vector(:)
      integer :: vector_used = 0
      !> Transformations 1..cached (and their vectors) are those of the cache's record: the
      !> factorisation's record keeps them after a reset until one is overwritten, and a restore
      !> of the cache then copies nothing.
      integer :: cached = 0
   end type op_record

   !> Q as a signed permutation while it is one (valid): origin(p) is the physical row at
   !> position p, position its inverse, sign(p) = +-1.
   type :: signed_permutation
      logical :: valid = .true.
      integer, allocatable :: origin(:), position(:)
      real(dp), allocatable :: sign(:)
   end type signed_permutation

   !> The result of the last factor_include_all: the outputs it was given, their unreduced
   !> gradients, and what the factorisation held afterwards (their reduced columns, statuses,
   !> the active list and the transformations).
   type :: include_cache
      logical :: valid = .false.
      integer, allocatable :: outputs(:)
      real(dp), allocatable :: gradients(:, :)
      real(dp), allocatable :: reduced(:, :)
      integer, allocatable :: status(:)
      integer :: count = 0
      integer, allocatable :: list(:)
      logical, allocatable :: diagonal(:)
      type(op_record) :: ops
      type(signed_permutation) :: permutation
   end type include_cache

   type :: factorisation
      integer :: n = 0
      integer :: m = 0
      integer :: first_bound = 1            ! columns first_bound..m are bound rows
      real(dp), allocatable :: r(:, :)      ! (n, m+3) reduced vectors
      real(dp), allocatable :: norm(:)      ! (m+3) norms of the unreduced vectors
      integer, allocatable :: status(:)     ! (m+3) position (> 0), STATUS_CANDIDATE/PASSIVE/IGNORED
      integer, allocatable :: list(:)       ! (n) active outputs in order
      logical, allocatable :: diagonal(:)   ! (n) column a_i of L has no entry above row i
      integer, allocatable :: single_row(:) ! (m+3) row of the one non-zero of an unreduced
                                            ! vector (a bound row's gradient), else 0
      real(dp), allocatable :: single_value(:) ! (m+3) that non-zero
      integer, allocatable :: bound_row(:)  ! (m-first_bound+1) variable of each bound row
      real(dp), allocatable :: bound_slope(:) ! (m-first_bound+1) its gradient's one non-zero
      logical, allocatable :: stored(:)     ! (m+3) r(:, j) holds column j (a bound row's is
                                            ! written when first read)
      integer :: count = 0
      type(op_record) :: ops
      integer, allocatable :: applied(:)    ! (m+3) transformations applied to each column
      type(signed_permutation) :: permutation
      type(include_cache) :: cache
      type(blas_kernels) :: blas             ! dgemm and dtrmm for include_blocked
   end type factorisation

contains

   !> Size the factorisation of n variables and m constraints, the last size(bound_variable) of
   !> them bound rows on those variables, with gradients bound_slope(b) e_{bound_variable(b)};
   !> kernels: the BLAS of the blocked inclusion (null: built-in products).
   subroutine factor_allocate(f, n, m, bound_variable, bound_slope, kernels, info)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: n, m, bound_variable(:)
      real(dp), intent(in) :: bound_slope(:)
      type(blas_kernels), intent(in) :: kernels
      integer, intent(out) :: info
      integer :: ierr

      f = factorisation()
      f%blas = kernels
      f%n = n
      f%m = m
      f%first_bound = m - size(bound_variable) + 1
      allocate (f%r(n, m + 3), f%norm(m + 3), f%status(m + 3), f%list(n), f%single_row(m + 3), &
                f%single_value(m + 3), f%stored(m + 3), f%diagonal(n), f%applied(m + 3), &
                f%bound_row(size(bound_variable)), f%bound_slope(size(bound_variable)), stat=ierr)
      info = merge(STATUS_OK, STATUS_OUT_OF_MEMORY, ierr == 0)
      if (ierr /= 0) return
      f%bound_row = bound_variable
      f%bound_slope = bound_slope
      f%norm = 0.0_dp
      f%status = STATUS_CANDIDATE
      f%list = 0
      f%diagonal = .false.
      f%single_row = 0
      f%single_value = 0.0_dp
      f%stored = .true.
      f%count = 0
      f%applied = 0
      call ops_allocate(f%ops)
      allocate (f%permutation%origin(n), f%permutation%position(n), f%permutation%sign(n))
      call permutation_reset(f%permutation)
   end subroutine factor_allocate

   !> Q = I.
   pure subroutine permutation_reset(perm)
      type(signed_permutation), intent(inout) :: perm
      integer :: i
      perm%valid = .true.
      perm%origin = [(i, i = 1, size(perm%origin))]
      perm%position = perm%origin
      perm%sign = 1.0_dp
   end subroutine permutation_reset

   !> Compose the signed permutation with transformation op of the record: a swap of rows
   !> (row, pivot), or a rotation (cos, sin) = (0, +-1) of rows (row, row+1), which maps
   !> (x_row, x_row+1) to (sin x_row+1, -sin x_row); anything else ends the tracking.
   pure subroutine permutation_follow(perm, ops, op)
      type(signed_permutation), intent(inout) :: perm
      type(op_record), intent(in) :: ops
      integer, intent(in) :: op
      integer :: a, b, moved
      real(dp) :: sign_a

      if (.not. perm%valid) return
      a = ops%row(op)
      if (ops%kind(op) == OP_ROTATE) then
         if (ops%cos(op) /= 0.0_dp .or. abs(ops%sin(op)) /= 1.0_dp) then
            perm%valid = .false.
            return
         end if
         b = a + 1
      else
         if (ops%last(op) /= a) then
            perm%valid = .false.
            return
         end if
         b = ops%pivot(op)
         if (b == a) return
      end if
      moved = perm%origin(a)
      perm%origin(a) = perm%origin(b)
      perm%origin(b) = moved
      perm%position(perm%origin(a)) = a
      perm%position(perm%origin(b)) = b
      sign_a = perm%sign(a)
      if (ops%kind(op) == OP_ROTATE) then
         perm%sign(a) = ops%sin(op) * perm%sign(b)
         perm%sign(b) = -ops%sin(op) * sign_a
      else
         perm%sign(a) = perm%sign(b)
         perm%sign(b) = sign_a
      end if
   end subroutine permutation_follow

   subroutine ops_allocate(ops)
      type(op_record), intent(inout) :: ops
      allocate (ops%kind(0), ops%row(0), ops%pivot(0), ops%last(0), ops%start(0), ops%scale(0), &
                ops%cos(0), ops%sin(0), ops%vector(0))
      ops%count = 0
      ops%vector_used = 0
   end subroutine ops_allocate

   !> Start from an empty active set: r = [G, aux1, aux2] with Q = I.  A bound row's column is
   !> only noted (its row and value, from factor_allocate: its column of G is not read);
   !> factor_refresh writes it when it is first read.
   subroutine factor_reset(f, gradients, kind, aux1, aux2)
      type(factorisation), intent(inout) :: f
      real(dp), intent(in) :: gradients(:, :)   ! (n, m+1)
      integer, intent(in) :: kind(:)            ! (m+1)
      real(dp), intent(in) :: aux1(:), aux2(:)
      integer :: j, row

      do j = 1, f%m + 3
         if (j >= f%first_bound .and. j <= f%m) then
            row = f%bound_row(j - f%first_bound + 1)
            f%single_row(j) = row
            f%single_value(j) = f%bound_slope(j - f%first_bound + 1)
            f%norm(j) = abs(f%single_value(j))
            f%stored(j) = .false.
         else
            ! column by column, so that its norm and non-zeros are read while it is in cache
            if (j <= f%m + 1) then
               f%r(:, j) = gradients(:, j)
            else if (j == f%m + 2) then
               f%r(:, j) = aux1
            else
               f%r(:, j) = aux2
            end if
            f%norm(j) = norm(f%r(:, j))
            f%single_row(j) = 0
            if (count(f%r(:, j) /= 0.0_dp) == 1) then
               f%single_row(j) = findloc(f%r(:, j) /= 0.0_dp, .true., 1)
               f%single_value(j) = f%r(f%single_row(j), j)
            end if
            f%stored(j) = .true.
         end if
      end do
      f%status = STATUS_CANDIDATE
      do j = 1, f%m
         if (kind(j) == TYPE_IGNORED) f%status(j) = STATUS_IGNORED
      end do
      f%list = 0
      f%count = 0
      f%ops%count = 0
      f%ops%vector_used = 0
      f%applied = 0
      call permutation_reset(f%permutation)
   end subroutine factor_reset

   !> Norm of the null-space part of column j.
   real(dp) function null_norm(f, j)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: j
      call factor_refresh(f, j)
      null_norm = norm(f%r(f%count + 1:f%n, j))
   end function null_norm

   !> Scalar product of the null-space parts of columns i and j (= g_i . p_j for projected p_j).
   real(dp) function null_dot(f, i, j)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: i, j
      call factor_refresh(f, i)
      call factor_refresh(f, j)
      null_dot = dot(f%r(f%count + 1:f%n, i), f%r(f%count + 1:f%n, j))
   end function null_dot

   !> Bring column j up to date: replay on it the transformations it has not seen.
   subroutine factor_refresh(f, j)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: j
      integer :: op, p

      if (f%applied(j) == f%ops%count .and. f%stored(j)) return
      if (f%permutation%valid .and. f%single_row(j) > 0) then
         ! (Q g_j)(p) = sign(p) g_j(origin(p)): one non-zero, at p = position(row).
         f%r(:, j) = 0.0_dp
         p = f%permutation%position(f%single_row(j))
         f%r(p, j) = f%permutation%sign(p) * f%single_value(j)
         f%stored(j) = .true.
         f%applied(j) = f%ops%count
         return
      end if
      if (.not. f%stored(j)) then
         f%r(:, j) = 0.0_dp
         f%r(f%single_row(j), j) = f%single_value(j)
         f%stored(j) = .true.
         f%applied(j) = 0
      end if
      do op = f%applied(j) + 1, f%ops%count
         call apply_op(f%ops, op, f%r(:, j))
      end do
      f%applied(j) = f%ops%count
   end subroutine factor_refresh

   !> Transformation op on the vector x.
   pure subroutine apply_op(ops, op, x)
      type(op_record), intent(in) :: ops
      integer, intent(in) :: op
      real(dp), intent(inout) :: x(:)
      real(dp) :: swap, upper, s
      integer :: row, last, start

      row = ops%row(op)
      if (ops%kind(op) == OP_ROTATE) then
         upper = x(row)
         x(row) = ops%cos(op) * upper + ops%sin(op) * x(row + 1)
         x(row + 1) = ops%cos(op) * x(row + 1) - ops%sin(op) * upper
         return
      end if
      if (ops%pivot(op) /= row) then
         swap = x(row)
         x(row) = x(ops%pivot(op))
         x(ops%pivot(op)) = swap
      end if
      last = ops%last(op)
      if (last == row) return
      start = ops%start(op)
      associate (v => ops%vector(start + 1:start + last - row + 1))
         s = ops%scale(op) * dot(v, x(row:last))
         if (s /= 0.0_dp) x(row:last) = x(row:last) - s * v
      end associate
   end subroutine apply_op

   !> True for a column that is transformed at once: up to date and not passive or ignored.
   pure logical function eager(f, col)
      type(factorisation), intent(in) :: f
      integer, intent(in) :: col
      eager = f%applied(col) == f%ops%count .and. f%stored(col) .and. f%status(col) /= STATUS_PASSIVE &
              .and. f%status(col) /= STATUS_IGNORED
   end function eager

   !> Append a transformation to the record (kind, rows, reflection vector or rotation).
   subroutine record_op(ops, kind, row, pivot, last, scale, v, cs, sn)
      type(op_record), intent(inout) :: ops
      integer, intent(in) :: kind, row, pivot, last
      real(dp), intent(in) :: scale, v(:), cs, sn
      integer :: capacity

      ops%cached = min(ops%cached, ops%count)   ! transformation count+1 is overwritten
      if (ops%count >= size(ops%kind)) then
         capacity = max(16, 2 * size(ops%kind))
         call grow_int(ops%kind, capacity)
         call grow_int(ops%row, capacity)
         call grow_int(ops%pivot, capacity)
         call grow_int(ops%last, capacity)
         call grow_int(ops%start, capacity)
         call grow_real(ops%scale, capacity)
         call grow_real(ops%cos, capacity)
         call grow_real(ops%sin, capacity)
      end if
      if (ops%vector_used + size(v) > size(ops%vector)) &
         call grow_real(ops%vector, max(2 * size(ops%vector), ops%vector_used + size(v), 1024))
      ops%count = ops%count + 1
      ops%kind(ops%count) = kind
      ops%row(ops%count) = row
      ops%pivot(ops%count) = pivot
      ops%last(ops%count) = last
      ops%start(ops%count) = ops%vector_used
      ops%scale(ops%count) = scale
      ops%cos(ops%count) = cs
      ops%sin(ops%count) = sn
      ops%vector(ops%vector_used + 1:ops%vector_used + size(v)) = v
      ops%vector_used = ops%vector_used + size(v)
   end subroutine record_op

   subroutine grow_int(a, capacity)
      integer, allocatable, intent(inout) :: a(:)
      integer, intent(in) :: capacity
      integer, allocatable :: b(:)
      allocate (b(capacity))
      b(1:size(a)) = a
      call move_alloc(b, a)
   end subroutine grow_int

   subroutine grow_real(a, capacity)
      real(dp), allocatable, intent(inout) :: a(:)
      integer, intent(in) :: capacity
      real(dp), allocatable :: b(:)
      allocate (b(capacity))
      b(1:size(a)) = a
      call move_alloc(b, a)
   end subroutine grow_real

   !> Add output j to the active set (k -> k+1): swap row k+1 with the row of the largest entry
   !> of r(k+1:n, j), then a Householder reflection I - 2 v v^T / v^T v of rows k+1..last maps
   !> r(k+1:last, j) onto alpha e_1 (none for a single non-zero).  Rejected when j depends on
   !> the active outputs.  The reflection only mixes the rows where v is non-zero.
   subroutine factor_include(f, j, accepted)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: j
      logical, intent(out) :: accepted
      real(dp), allocatable :: v(:), coefficient(:), scale(:)
      integer, allocatable :: rows(:), columns(:)
      real(dp) :: reduced_norm, alpha, swap, s, factor
      integer :: k, pivot, last, col, i, c

      accepted = .false.
      k = f%count
      if (k >= f%n) return
      if (f%permutation%valid .and. f%single_row(j) > 0) then
         call include_single(f, j, accepted)
         return
      end if
      call factor_refresh(f, j)
      reduced_norm = norm(f%r(k + 1:f%n, j))
      if (dependent(reduced_norm, f%norm(j))) return

      columns = pack([(col, col = 1, f%m + 3)], [(eager(f, col) .and. col /= j, col = 1, f%m + 3)])
      pivot = k + maxloc(abs(f%r(k + 1:f%n, j)), 1)
      if (pivot /= k + 1) then
         do c = 1, size(columns)
            col = columns(c)
            swap = f%r(k + 1, col)
            f%r(k + 1, col) = f%r(pivot, col)
            f%r(pivot, col) = swap
         end do
         swap = f%r(k + 1, j)
         f%r(k + 1, j) = f%r(pivot, j)
         f%r(pivot, j) = swap
      end if
      call householder(f%r(:, j), k, reduced_norm, last, alpha, v, factor)
      if (last > k + 1) then
         rows = pack([(i, i = k + 1, last)], v /= 0.0_dp)
         if (2 * size(rows) <= last - k) then
            ! A sparse reflector: s = factor v.r(rows, :) for the eager columns at once.
            coefficient = pack(v, v /= 0.0_dp)
            allocate (scale(size(columns)))
            scale = 0.0_dp
            do i = 1, size(rows)
               scale = scale + coefficient(i) * f%r(rows(i), columns)
            end do
            scale = factor * scale
            do c = 1, size(columns)
               if (scale(c) /= 0.0_dp) f%r(rows, columns(c)) = f%r(rows, columns(c)) - scale(c) * coefficient
            end do
         else
            do c = 1, size(columns)
               col = columns(c)
               if (f%status(col) > 0) cycle  ! zero below its own row
               s = factor * dot(v, f%r(k + 1:last, col))
               if (s /= 0.0_dp) f%r(k + 1:last, col) = f%r(k + 1:last, col) - s * v
            end do
         end if
      end if
      call record_inclusion(f, j, pivot, last, factor, v, alpha)
      do c = 1, size(columns)
         f%applied(columns(c)) = f%ops%count
      end do
      accepted = .true.
   end subroutine factor_include

   !> True for a column whose reduced part (of norm reduced_norm) is negligible against its
   !> unreduced norm: it depends on the active columns.
   pure logical function dependent(reduced_norm, full_norm)
      real(dp), intent(in) :: reduced_norm, full_norm
      dependent = reduced_norm == 0.0_dp .or. reduced_norm <= DEPENDENCE_TOLERANCE * full_norm
   end function dependent

   !> The Householder reflection I - factor v v^T of rows k+1..last that maps x(k+1:last) onto
   !> alpha e_1, for a column x whose largest reduced entry was swapped to row k+1, with
   !> reduced_norm = |x(k+1:n)|; last is its last non-zero row.  Below k+2 there is nothing to
   !> reflect: v = [0], factor = 0, alpha = x(k+1).
   pure subroutine householder(x, k, reduced_norm, last, alpha, v, factor)
      real(dp), intent(in) :: x(:), reduced_norm
      integer, intent(in) :: k
      integer, intent(out) :: last
      real(dp), intent(out) :: alpha, factor
      real(dp), allocatable, intent(out) :: v(:)

      last = k + findloc(x(k + 1:) /= 0.0_dp, .true., dim=1, back=.true.)
      alpha = x(k + 1)
      factor = 0.0_dp
      v = [0.0_dp]
      if (last == k + 1) return
      alpha = -sign(reduced_norm, x(k + 1))
      v = x(k + 1:last)
      v(1) = v(1) - alpha
      factor = 2.0_dp / dot(v, v)
   end subroutine householder

   !> Record the inclusion of column j at position k+1 (k = f%count) by the swap of rows k+1 and
   !> pivot and the reflection (last, factor, v): its transformation, the signed permutation,
   !> the reduced column alpha e_{k+1} (above row k+1 as it is) and the active list.
   subroutine record_inclusion(f, j, pivot, last, factor, v, alpha)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: j, pivot, last
      real(dp), intent(in) :: factor, v(:), alpha
      integer :: k

      k = f%count
      call record_op(f%ops, OP_REFLECT, k + 1, pivot, merge(last, k + 1, last > k + 1), factor, v, 0.0_dp, 0.0_dp)
      call permutation_follow(f%permutation, f%ops, f%ops%count)
      f%applied(j) = f%ops%count
      f%r(k + 1, j) = alpha
      f%r(k + 2:f%n, j) = 0.0_dp
      f%count = k + 1
      f%list(k + 1) = j
      f%diagonal(k + 1) = all(f%r(1:k, j) == 0.0_dp)
      f%status(j) = k + 1
   end subroutine record_inclusion

   !> factor_include for a column with one non-zero while Q is a signed permutation: the
   !> non-zero is sign(p) g_j(row) at p = position(row); the column depends on the active ones
   !> when p <= k, else the swap of rows k+1 and p is the whole transformation.  It is applied at
   !> once to the merit and auxiliary columns only; the active columns are zero in both rows
   !> (nothing to do) and the candidates' columns replay it when read.  A column not yet stored
   !> (a bound row's) gets only its diagonal entry r(k+1, j), which is all that the triangular
   !> solves read; the rest of it is written when it is read (factor_refresh), e.g. by
   !> factor_exclude.  With n bound rows active, that saves writing (and mapping) n columns.
   subroutine include_single(f, j, accepted)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: j
      logical, intent(out) :: accepted
      real(dp) :: swap, none(1), value
      integer :: k, pivot, col, i, previous

      k = f%count
      pivot = f%permutation%position(f%single_row(j))
      value = f%permutation%sign(pivot) * f%single_value(j)
      accepted = pivot > k .and. value /= 0.0_dp
      if (.not. accepted) return
      if (f%stored(j)) call factor_refresh(f, j)
      previous = f%ops%count
      none = 0.0_dp
      call record_op(f%ops, OP_REFLECT, k + 1, pivot, k + 1, 0.0_dp, none, 0.0_dp, 0.0_dp)
      call permutation_follow(f%permutation, f%ops, f%ops%count)
      do col = f%m + 1, f%m + 3
         if (f%applied(col) /= previous .or. .not. f%stored(col) .or. f%status(col) == STATUS_PASSIVE &
             .or. f%status(col) == STATUS_IGNORED) cycle
         swap = f%r(k + 1, col)
         f%r(k + 1, col) = f%r(pivot, col)
         f%r(pivot, col) = swap
         f%applied(col) = f%ops%count
      end do
      do i = 1, k
         col = f%list(i)
         if (f%applied(col) == previous) f%applied(col) = f%ops%count
      end do
      f%r(k + 1, j) = value
      if (f%stored(j) .and. pivot /= k + 1) f%r(pivot, j) = 0.0_dp
      f%applied(j) = f%ops%count
      f%count = k + 1
      f%list(k + 1) = j
      f%diagonal(k + 1) = .true.
      f%status(j) = k + 1
   end subroutine include_single

   !> Include outputs(1), outputs(2), ... in this order (one that depends on those before it
   !> becomes passive).  Their columns are reduced only when each is included (left-looking), not
   !> at every inclusion before; many of them are factorised by panels (include_blocked).
   !> gradients are the unreduced ones of factor_reset.  Right after factor_reset, the result is
   !> kept; when the last such call had the same outputs with bitwise the same gradients, its
   !> result is restored: the same numbers without the work.
   subroutine factor_include_all(f, outputs, gradients)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: outputs(:)
      real(dp), intent(in) :: gradients(:, :)
      logical :: accepted, fresh
      integer :: i, first

      fresh = f%count == 0 .and. f%ops%count == 0
      if (fresh .and. cache_matches(f%cache, outputs, gradients)) then
         associate (cache => f%cache)
            do i = 1, size(outputs)   ! column by column: a vector subscript copies by elements
               f%r(:, outputs(i)) = cache%reduced(:, i)
            end do
            f%status(outputs) = cache%status
            f%count = cache%count
            f%list(1:f%count) = cache%list
            f%diagonal(1:f%count) = cache%diagonal
            if (f%ops%cached == cache%ops%count) then   ! still in place since the last time
               f%ops%count = cache%ops%count
               f%ops%vector_used = cache%ops%vector_used
            else
               call copy_ops(cache%ops, f%ops)
               f%ops%cached = f%ops%count
            end if
            call copy_permutation(cache%permutation, f%permutation)
            f%stored(outputs) = .true.
            f%applied(outputs) = f%ops%count
         end associate
         return
      end if
      f%status(outputs) = STATUS_PASSIVE  ! not transformed until included
      ! Single-non-zero columns while Q is a signed permutation (bound rows): row swaps, O(1).
      first = size(outputs) + 1
      do i = 1, size(outputs)
         if (.not. (f%permutation%valid .and. f%single_row(outputs(i)) > 0)) then
            first = i
            exit
         end if
         call factor_include(f, outputs(i), accepted)
      end do
      if (size(outputs) - first + 1 >= BLOCKED_MINIMUM) then
         call include_blocked(f, outputs(first:))
      else
         do i = first, size(outputs)
            call factor_include(f, outputs(i), accepted)
         end do
      end if
      if (.not. fresh) return
      call factor_refresh_all(f, outputs)
      call store_cache(f, outputs, gradients)
   end subroutine factor_include_all

   !> Keep the result of factor_include_all(f, outputs, gradients) in f%cache, in the storage of
   !> the previous one where it fits (the arrays are assigned whole, so that they are reallocated
   !> only when their shape changes).
   subroutine store_cache(f, outputs, gradients)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: outputs(:)
      real(dp), intent(in) :: gradients(:, :)

      associate (cache => f%cache)
         cache%valid = .true.
         cache%outputs = outputs
         cache%gradients = gradients(:, outputs)
         cache%reduced = f%r(:, outputs)
         cache%status = f%status(outputs)
         cache%count = f%count
         cache%list = f%list(1:f%count)
         cache%diagonal = f%diagonal(1:f%count)
         if (.not. allocated(cache%ops%kind)) call ops_allocate(cache%ops)
         call copy_ops(f%ops, cache%ops)
         f%ops%cached = f%ops%count
         call copy_permutation(f%permutation, cache%permutation)
      end associate
   end subroutine store_cache

   !> target = source: its transformations written into target's storage, which is replaced
   !> (with source's capacity) only when too small.  Restoring the cache then allocates, and
   !> maps, no memory.
   subroutine copy_ops(source, target)
      type(op_record), intent(in) :: source
      type(op_record), intent(inout) :: target
      integer :: count, used

      count = source%count
      used = source%vector_used
      if (size(target%kind) < count) then
         deallocate (target%kind, target%row, target%pivot, target%last, target%start, target%scale, &
                     target%cos, target%sin)
         associate (capacity => size(source%kind))
            allocate (target%kind(capacity), target%row(capacity), target%pivot(capacity), &
                      target%last(capacity), target%start(capacity), target%scale(capacity), &
                      target%cos(capacity), target%sin(capacity))
         end associate
      end if
      if (size(target%vector) < used) then
         deallocate (target%vector)
         allocate (target%vector(size(source%vector)))
      end if
      target%count = count
      target%vector_used = used
      target%kind(1:count) = source%kind(1:count)
      target%row(1:count) = source%row(1:count)
      target%pivot(1:count) = source%pivot(1:count)
      target%last(1:count) = source%last(1:count)
      target%start(1:count) = source%start(1:count)
      target%scale(1:count) = source%scale(1:count)
      target%cos(1:count) = source%cos(1:count)
      target%sin(1:count) = source%sin(1:count)
      target%vector(1:used) = source%vector(1:used)
   end subroutine copy_ops

   !> target = source, component by component (an intrinsic assignment of the derived type
   !> would reallocate every array).
   pure subroutine copy_permutation(source, target)
      type(signed_permutation), intent(in) :: source
      type(signed_permutation), intent(inout) :: target
      target%valid = source%valid
      target%origin = source%origin
      target%position = source%position
      target%sign = source%sign
   end subroutine copy_permutation

   !> factor_include of outputs(1), outputs(2), ... in order, by panels of PANEL_WIDTH columns
   !> (blocked Householder QR, Schreiber & Van Loan 1989).  Within a panel each column is
   !> included as factor_include does (the same row swap, reflection, dependence test and
   !> record); the panel's reflections reach the later columns and the eager ones at once, in
   !> the compact WY form
   !>     H_b P_b ... H_1 P_1 = (I - V T^T V^T) P_b ... P_1,
   !> where the row swaps P are applied to whole rows when they are made (to the reflection
   !> vectors V of the panel too, which moves each H_c past the later swaps) and T is upper
   !> triangular.  That is level-3 work (BLAS) instead of one reflection at a time.
   subroutine include_blocked(f, outputs)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: outputs(:)
      real(dp), allocatable :: work(:, :), eager_work(:, :)
      integer, allocatable :: eager_columns(:), moving(:)
      integer :: col, i, panel_first, panel_last, ierr
      logical :: accepted

      ! The columns transformed at once: those not active need the panels' transformations; the
      ! active ones are zero in every row they change.
      eager_columns = pack([(col, col = 1, f%m + 3)], [(eager(f, col), col = 1, f%m + 3)])
      moving = pack(eager_columns, f%status(eager_columns) <= 0)
      allocate (work(f%n, size(outputs)), eager_work(f%n, size(moving)), stat=ierr)
      if (ierr /= 0) then   ! no room for the copies: one column at a time
         do i = 1, size(outputs)
            call factor_include(f, outputs(i), accepted)
         end do
         return
      end if
      do i = 1, size(outputs)
         call factor_refresh(f, outputs(i))
         work(:, i) = f%r(:, outputs(i))
      end do
      eager_work = f%r(:, moving)
      do panel_first = 1, size(outputs), PANEL_WIDTH
         panel_last = min(panel_first + PANEL_WIDTH - 1, size(outputs))
         call include_panel(f, outputs, panel_first, panel_last, work, eager_work)
      end do
      f%r(:, moving) = eager_work
      f%applied(eager_columns) = f%ops%count
      f%applied(pack(outputs, f%status(outputs) > 0)) = f%ops%count
   end subroutine include_blocked

   !> Include outputs(panel_first:panel_last), whose reduced columns are work(:, panel_first:
   !> panel_last), then apply the panel's transformations to the later columns of work and to
   !> eager_work.  Each column is written to r when its turn comes (included or rejected).
   subroutine include_panel(f, outputs, panel_first, panel_last, work, eager_work)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: outputs(:), panel_first, panel_last
      real(dp), intent(inout), contiguous :: work(:, :), eager_work(:, :)
      real(dp), allocatable :: reflectors(:, :)   ! V: v_c in rows k_c+1..last_c, then swapped
      real(dp) :: t_factor(panel_last - panel_first + 1, panel_last - panel_first + 1)
      real(dp), allocatable :: v(:), s(:)
      real(dp) :: reduced_norm, alpha, factor
      integer :: i, j, k, k_start, pivot, last, reflections, span_last, touched_last

      k_start = f%count
      reflections = 0       ! of the panel so far
      span_last = k_start   ! the rows they change, and where V is non-zero: k_start+1..span_last
      allocate (reflectors(f%n, panel_last - panel_first + 1))
      reflectors = 0.0_dp
      t_factor = 0.0_dp
      do i = panel_first, panel_last
         j = outputs(i)
         k = f%count
         reduced_norm = norm(work(k + 1:f%n, i))
         if (dependent(reduced_norm, f%norm(j))) then
            f%r(:, j) = work(:, i)   ! passive, up to date with the transformations so far
            f%applied(j) = f%ops%count
            cycle
         end if
         pivot = k + maxloc(abs(work(k + 1:f%n, i)), 1)
         if (pivot /= k + 1) then
            call swap_rows(work(:, i:), k + 1, pivot)
            call swap_rows(eager_work, k + 1, pivot)
            call swap_rows(reflectors(:, 1:reflections), k + 1, pivot)
         end if
         call householder(work(:, i), k, reduced_norm, last, alpha, v, factor)
         reflections = reflections + 1
         span_last = max(span_last, last, pivot)
         if (last > k + 1) then
            ! The panel's later columns: x <- x - factor v (v^T x).
            if (i < panel_last) then
               s = factor * matmul(v, work(k + 1:last, i + 1:panel_last))
               call subtract_outer(work(k + 1:last, i + 1:panel_last), v, s)
            end if
            ! V(:, c) = v,  T(1:c-1, c) = -factor T(1:c-1, 1:c-1) V(:, 1:c-1)^T v,  T(c, c) = factor.
            associate (c => reflections)
               reflectors(k + 1:last, c) = v
               t_factor(1:c - 1, c) = -factor * matmul(t_factor(1:c - 1, 1:c - 1), matmul(v, reflectors(k + 1:last, 1:c - 1)))
               t_factor(c, c) = factor
            end associate
         end if   ! else the swap alone (V's column and T's stay zero)
         f%r(1:k, j) = work(1:k, i)
         call record_inclusion(f, j, pivot, last, factor, v, alpha)
      end do
      if (reflections == 0) return
      ! The later columns with a non-zero in the rows changed (those after them are left alone).
      touched_last = panel_last
      do i = size(outputs), panel_last + 1, -1
         if (any(work(k_start + 1:span_last, i) /= 0.0_dp)) then
            touched_last = i
            exit
         end if
      end do
      associate (ld => f%n, ld_t => size(t_factor, 1))
         if (touched_last > panel_last) &
            call apply_block_reflector(f%blas, reflectors, ld, t_factor, ld_t, reflections, k_start + 1, &
                                       span_last, work, ld, panel_last + 1, touched_last)
         if (size(eager_work, 2) > 0) &
            call apply_block_reflector(f%blas, reflectors, ld, t_factor, ld_t, reflections, k_start + 1, &
                                       span_last, eager_work, ld, 1, size(eager_work, 2))
      end associate
   end subroutine include_panel

   !> z(first_row:last_row, first:last) <- (I - V T V^T)^T z = z - V (T^T (V^T z)) with
   !> V = reflectors(first_row:last_row, 1:b) and T = t_factor(1:b, 1:b) upper triangular: the
   !> reflections H_1, ..., H_b applied in this order, in three BLAS calls on the blocks in place.
   !> The arrays are passed whole with their leading dimensions (explicit shape), so that the
   !> blocks reach BLAS without a copy.
   subroutine apply_block_reflector(kernels, reflectors, ld_reflectors, t_factor, ld_t, b, first_row, last_row, &
                                    z, ld_z, first, last)
      type(blas_kernels), intent(in) :: kernels
      integer, intent(in) :: ld_reflectors, ld_t, ld_z, b, first_row, last_row, first, last
      real(dp), intent(in) :: reflectors(ld_reflectors, *), t_factor(ld_t, *)
      real(dp), intent(inout) :: z(ld_z, *)
      real(dp), allocatable :: coefficients(:, :)
      integer :: rows, columns

      rows = last_row - first_row + 1
      columns = last - first + 1
      allocate (coefficients(b, columns))
      ! C = V^T z, then C = T^T C, then z = z - V C.
      call gemm(kernels, 'T', 'N', b, columns, rows, 1.0_dp, reflectors(first_row, 1), ld_reflectors, &
                z(first_row, first), ld_z, 0.0_dp, coefficients, b)
      call trmm(kernels, 'L', 'U', 'T', 'N', b, columns, 1.0_dp, t_factor, ld_t, coefficients, b)
      call gemm(kernels, 'N', 'N', rows, columns, b, -1.0_dp, reflectors(first_row, 1), ld_reflectors, &
                coefficients, b, 1.0_dp, z(first_row, first), ld_z)
   end subroutine apply_block_reflector

   !> z <- z - v s^T.
   pure subroutine subtract_outer(z, v, s)
      real(dp), intent(inout) :: z(:, :)
      real(dp), intent(in) :: v(:), s(:)
      integer :: c
      do c = 1, size(z, 2)
         if (s(c) /= 0.0_dp) z(:, c) = z(:, c) - s(c) * v
      end do
   end subroutine subtract_outer

   !> Exchange rows a and b of every column of z.
   pure subroutine swap_rows(z, a, b)
      real(dp), intent(inout) :: z(:, :)
      integer, intent(in) :: a, b
      real(dp) :: row(size(z, 2))
      row = z(a, :)
      z(a, :) = z(b, :)
      z(b, :) = row
   end subroutine swap_rows

   !> Bring the given columns up to date.
   subroutine factor_refresh_all(f, columns)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: columns(:)
      integer :: i
      do i = 1, size(columns)
         call factor_refresh(f, columns(i))
      end do
   end subroutine factor_refresh_all

   !> True when cache holds the result for these outputs and gradients.
   pure logical function cache_matches(cache, outputs, gradients)
      type(include_cache), intent(in) :: cache
      integer, intent(in) :: outputs(:)
      real(dp), intent(in) :: gradients(:, :)
      integer :: i

      cache_matches = .false.
      if (.not. cache%valid) return
      if (size(cache%outputs) /= size(outputs)) return
      if (any(cache%outputs /= outputs)) return
      ! count, not any: a reduction without an early exit is vectorised (4 times faster here).
      do i = 1, size(outputs)
         if (count(cache%gradients(:, i) /= gradients(:, outputs(i))) > 0) return
      end do
      cache_matches = .true.
   end function cache_matches

   !> Remove the active output at list position p, then restore the triangular shape: column
   !> a_i (i = p..k-1) gained an entry in row i+1, removed by a rotation of rows (i, i+1).
   subroutine factor_exclude(f, p)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: p
      real(dp) :: a, b, rho, cs, sn, upper, none(0)
      integer, allocatable :: columns(:)
      integer :: i, k, col, c

      k = f%count
      do i = p + 1, k  ! the columns that move up are rotated: each must be stored in full
         call factor_refresh(f, f%list(i))
      end do
      f%status(f%list(p)) = STATUS_CANDIDATE
      do i = p, k - 1
         f%list(i) = f%list(i + 1)
         f%status(f%list(i)) = i
      end do
      f%list(k) = 0
      f%count = k - 1
      columns = pack([(col, col = 1, f%m + 3)], [(eager(f, col), col = 1, f%m + 3)])
      do i = p, k - 1
         col = f%list(i)
         a = f%r(i, col)
         b = f%r(i + 1, col)
         rho = hypot(a, b)
         if (rho == 0.0_dp .or. b == 0.0_dp) cycle
         cs = a / rho
         sn = b / rho
         do c = 1, size(columns)
            upper = f%r(i, columns(c))
            f%r(i, columns(c)) = cs * upper + sn * f%r(i + 1, columns(c))
            f%r(i + 1, columns(c)) = cs * f%r(i + 1, columns(c)) - sn * upper
         end do
         f%r(i, col) = rho
         f%r(i + 1, col) = 0.0_dp
         call record_op(f%ops, OP_ROTATE, i, i, i + 1, 0.0_dp, none, cs, sn)
         call permutation_follow(f%permutation, f%ops, f%ops%count)
         do c = 1, size(columns)
            f%applied(columns(c)) = f%ops%count
         end do
      end do
      do i = p, k - 1
         f%diagonal(i) = all(f%r(1:i - 1, f%list(i)) == 0.0_dp)
      end do
   end subroutine factor_exclude

   !> mu = L^{-T} r(1:k, j): coefficients of column j on the active gradients.
   function multipliers(f, j) result(mu)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: j
      real(dp) :: mu(f%count)
      call factor_refresh(f, j)
      mu = backward_solve(f, f%r(1:f%count, j))
   end function multipliers

   !> Solve L^T y = b.  Column i of L^T is r(1:i, a_i), so the substitution runs by columns
   !> (skipped where it holds only its diagonal: a bound row included by a row swap).
   pure function backward_solve(f, b) result(y)
      type(factorisation), intent(in) :: f
      real(dp), intent(in) :: b(:)
      real(dp) :: y(f%count), rest(f%count)
      integer :: i, col

      rest = b(1:f%count)
      do i = f%count, 1, -1
         col = f%list(i)
         y(i) = rest(i) / f%r(i, col)
         if (y(i) /= 0.0_dp .and. .not. f%diagonal(i)) rest(1:i - 1) = rest(1:i - 1) - y(i) * f%r(1:i - 1, col)
      end do
   end function backward_solve

   !> Solve L w = b.
   pure function forward_solve(f, b) result(w)
      type(factorisation), intent(in) :: f
      real(dp), intent(in) :: b(:)
      real(dp) :: w(f%count)
      integer :: i, col

      do i = 1, f%count
         col = f%list(i)
         if (f%diagonal(i)) then
            w(i) = b(i) / f%r(i, col)
         else
            w(i) = (b(i) - dot(f%r(1:i - 1, col), w(1:i - 1))) / f%r(i, col)
         end if
      end do
   end function forward_solve

   !> sum_i coefficient_i g_{a_i}, from the unreduced gradients (those of factor_reset; a
   !> single-non-zero one from its noted value, so that a bound row's column is not read).
   pure function active_combination(f, gradients, coefficient) result(v)
      type(factorisation), intent(in) :: f
      real(dp), intent(in) :: gradients(:, :), coefficient(:)
      real(dp) :: v(f%n)
      integer :: i, row

      v = 0.0_dp
      do i = 1, f%count
         row = f%single_row(f%list(i))
         if (row > 0) then
            v(row) = v(row) + coefficient(i) * f%single_value(f%list(i))
         else
            v = v + coefficient(i) * gradients(:, f%list(i))
         end if
      end do
   end function active_combination

   !> P v = v - sum mu_i g_{a_i}, mu the least-squares coefficients of v on the active
   !> gradients (L^T mu = (Q v)(1:k)): the component of any vector v in the null space of the
   !> active set, in physical space (one replay of the record on v).
   function null_projection(f, gradients, v) result(p)
      type(factorisation), intent(in) :: f
      real(dp), intent(in) :: gradients(:, :), v(:)
      real(dp) :: p(f%n), w(f%n)
      integer :: op
      w = v
      do op = 1, f%ops%count
         call apply_op(f%ops, op, w)
      end do
      p = v - active_combination(f, gradients, backward_solve(f, w(1:f%count)))
   end function null_projection

end module optgra_active_set
