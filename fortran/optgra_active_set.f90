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
module optgra_active_set
   use optgra_kinds
   implicit none
   private

   public :: factorisation, factor_allocate, factor_reset, factor_include, factor_exclude
   public :: null_norm, null_dot, multipliers, forward_solve, backward_solve, active_combination
   public :: factor_refresh

   !> Relative size below which a gradient is taken as dependent on the active ones.
   real(dp), parameter :: DEPENDENCE_TOLERANCE = 1.0e-10_dp

   integer, parameter :: OP_REFLECT = 1, OP_ROTATE = 2

   type :: factorisation
      integer :: n = 0
      integer :: m = 0
      real(dp), allocatable :: r(:, :)      ! (n, m+3) reduced vectors
      real(dp), allocatable :: norm(:)      ! (m+3) norms of the unreduced vectors
      integer, allocatable :: status(:)     ! (m+3) position (> 0), STATUS_CANDIDATE/PASSIVE/IGNORED
      integer, allocatable :: list(:)       ! (n) active outputs in order
      logical, allocatable :: diagonal(:)   ! (n) column a_i of L has no entry above row i
      integer, allocatable :: single_row(:) ! (m+3) row of the one non-zero of an unreduced
                                            ! vector (a bound row's gradient), else 0
      integer :: count = 0
      !> Transformation i (1..n_ops): OP_REFLECT swaps rows op_row and op_pivot, then reflects
      !> rows op_row..op_last by I - op_scale v v^T, v = op_vector(op_start+1 : op_start+length);
      !> OP_ROTATE rotates rows op_row, op_row+1 by (op_cos, op_sin).
      integer :: n_ops = 0
      integer, allocatable :: op_kind(:), op_row(:), op_pivot(:), op_last(:), op_start(:)
      real(dp), allocatable :: op_scale(:), op_cos(:), op_sin(:), op_vector(:)
      integer :: vector_used = 0
      integer, allocatable :: applied(:)    ! (m+3) transformations applied to each column
   end type factorisation

contains

   subroutine factor_allocate(f, n, m, info)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: n, m
      integer, intent(out) :: info
      integer :: ierr

      f%n = n
      f%m = m
      allocate (f%r(n, m + 3), f%norm(m + 3), f%status(m + 3), f%list(n), f%single_row(m + 3), &
                f%diagonal(n), stat=ierr)
      info = merge(STATUS_OK, STATUS_OUT_OF_MEMORY, ierr == 0)
      if (ierr /= 0) return
      f%r = 0.0_dp
      f%norm = 0.0_dp
      f%status = STATUS_CANDIDATE
      f%list = 0
      f%diagonal = .false.
      f%single_row = 0
      f%count = 0
      allocate (f%applied(m + 3), f%op_kind(0), f%op_row(0), f%op_pivot(0), f%op_last(0), &
                f%op_start(0), f%op_scale(0), f%op_cos(0), f%op_sin(0), f%op_vector(0), stat=ierr)
      info = merge(STATUS_OK, STATUS_OUT_OF_MEMORY, ierr == 0)
      f%applied = 0
      f%n_ops = 0
      f%vector_used = 0
   end subroutine factor_allocate

   !> Start from an empty active set: r = [G, aux1, aux2] with Q = I.
   subroutine factor_reset(f, gradients, kind, aux1, aux2)
      type(factorisation), intent(inout) :: f
      real(dp), intent(in) :: gradients(:, :)   ! (n, m+1)
      integer, intent(in) :: kind(:)            ! (m+1)
      real(dp), intent(in) :: aux1(:), aux2(:)
      integer :: j

      f%r(:, 1:f%m + 1) = gradients
      f%r(:, f%m + 2) = aux1
      f%r(:, f%m + 3) = aux2
      do j = 1, f%m + 3
         f%norm(j) = norm2(f%r(:, j))
         f%single_row(j) = 0
         if (count(f%r(:, j) /= 0.0_dp) == 1) f%single_row(j) = findloc(f%r(:, j) /= 0.0_dp, .true., 1)
      end do
      f%status = STATUS_CANDIDATE
      do j = 1, f%m
         if (kind(j) == TYPE_IGNORED) f%status(j) = STATUS_IGNORED
      end do
      f%list = 0
      f%count = 0
      f%n_ops = 0
      f%vector_used = 0
      f%applied = 0
   end subroutine factor_reset

   !> Norm of the null-space part of column j.
   real(dp) function null_norm(f, j)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: j
      call factor_refresh(f, j)
      null_norm = norm2(f%r(f%count + 1:f%n, j))
   end function null_norm

   !> Scalar product of the null-space parts of columns i and j (= g_i . p_j for projected p_j).
   real(dp) function null_dot(f, i, j)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: i, j
      call factor_refresh(f, i)
      call factor_refresh(f, j)
      null_dot = dot_product(f%r(f%count + 1:f%n, i), f%r(f%count + 1:f%n, j))
   end function null_dot

   !> Bring column j up to date: replay on it the transformations it has not seen.
   subroutine factor_refresh(f, j)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: j
      integer :: op

      do op = f%applied(j) + 1, f%n_ops
         call apply_op(f, op, j)
      end do
      f%applied(j) = f%n_ops
   end subroutine factor_refresh

   !> Transformation op on column col of r.
   subroutine apply_op(f, op, col)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: op, col
      real(dp) :: swap, upper, s
      integer :: row, last, start

      row = f%op_row(op)
      if (f%op_kind(op) == OP_ROTATE) then
         upper = f%r(row, col)
         f%r(row, col) = f%op_cos(op) * upper + f%op_sin(op) * f%r(row + 1, col)
         f%r(row + 1, col) = f%op_cos(op) * f%r(row + 1, col) - f%op_sin(op) * upper
         return
      end if
      if (f%op_pivot(op) /= row) then
         swap = f%r(row, col)
         f%r(row, col) = f%r(f%op_pivot(op), col)
         f%r(f%op_pivot(op), col) = swap
      end if
      last = f%op_last(op)
      if (last == row) return
      start = f%op_start(op)
      associate (v => f%op_vector(start + 1:start + last - row + 1))
         s = f%op_scale(op) * dot_product(v, f%r(row:last, col))
         if (s /= 0.0_dp) f%r(row:last, col) = f%r(row:last, col) - s * v
      end associate
   end subroutine apply_op

   !> True for a column that is transformed at once: up to date and not passive or ignored.
   pure logical function eager(f, col)
      type(factorisation), intent(in) :: f
      integer, intent(in) :: col
      eager = f%applied(col) == f%n_ops .and. f%status(col) /= STATUS_PASSIVE &
              .and. f%status(col) /= STATUS_IGNORED
   end function eager

   !> Append a transformation to the record (kind, rows, reflection vector or rotation).
   subroutine record_op(f, kind, row, pivot, last, scale, v, cs, sn)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: kind, row, pivot, last
      real(dp), intent(in) :: scale, v(:), cs, sn
      integer :: capacity

      if (f%n_ops >= size(f%op_kind)) then
         capacity = max(16, 2 * size(f%op_kind))
         call grow_int(f%op_kind, capacity)
         call grow_int(f%op_row, capacity)
         call grow_int(f%op_pivot, capacity)
         call grow_int(f%op_last, capacity)
         call grow_int(f%op_start, capacity)
         call grow_real(f%op_scale, capacity)
         call grow_real(f%op_cos, capacity)
         call grow_real(f%op_sin, capacity)
      end if
      if (f%vector_used + size(v) > size(f%op_vector)) &
         call grow_real(f%op_vector, max(2 * size(f%op_vector), f%vector_used + size(v), 1024))
      f%n_ops = f%n_ops + 1
      f%op_kind(f%n_ops) = kind
      f%op_row(f%n_ops) = row
      f%op_pivot(f%n_ops) = pivot
      f%op_last(f%n_ops) = last
      f%op_start(f%n_ops) = f%vector_used
      f%op_scale(f%n_ops) = scale
      f%op_cos(f%n_ops) = cs
      f%op_sin(f%n_ops) = sn
      f%op_vector(f%vector_used + 1:f%vector_used + size(v)) = v
      f%vector_used = f%vector_used + size(v)
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
      call factor_refresh(f, j)
      reduced_norm = norm2(f%r(k + 1:f%n, j))
      if (reduced_norm == 0.0_dp .or. reduced_norm <= DEPENDENCE_TOLERANCE * f%norm(j)) return

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
      last = k + findloc(f%r(k + 1:f%n, j) /= 0.0_dp, .true., dim=1, back=.true.)

      alpha = f%r(k + 1, j)
      factor = 0.0_dp
      if (last > k + 1) then
         alpha = -sign(reduced_norm, f%r(k + 1, j))
         v = f%r(k + 1:last, j)
         v(1) = v(1) - alpha
         factor = 2.0_dp / dot_product(v, v)
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
               s = factor * dot_product(v, f%r(k + 1:last, col))
               if (s /= 0.0_dp) f%r(k + 1:last, col) = f%r(k + 1:last, col) - s * v
            end do
         end if
      else
         allocate (v(1))
         v = 0.0_dp
      end if
      call record_op(f, OP_REFLECT, k + 1, pivot, merge(last, k + 1, last > k + 1), factor, v, 0.0_dp, 0.0_dp)
      do c = 1, size(columns)
         f%applied(columns(c)) = f%n_ops
      end do
      f%applied(j) = f%n_ops
      f%r(k + 1, j) = alpha
      f%r(k + 2:f%n, j) = 0.0_dp
      f%count = k + 1
      f%list(k + 1) = j
      f%diagonal(k + 1) = all(f%r(1:k, j) == 0.0_dp)
      f%status(j) = k + 1
      accepted = .true.
   end subroutine factor_include

   !> Remove the active output at list position p, then restore the triangular shape: column
   !> a_i (i = p..k-1) gained an entry in row i+1, removed by a rotation of rows (i, i+1).
   subroutine factor_exclude(f, p)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: p
      real(dp) :: a, b, rho, cs, sn, upper, none(0)
      integer, allocatable :: columns(:)
      integer :: i, k, col, c

      k = f%count
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
         call record_op(f, OP_ROTATE, i, i, i + 1, 0.0_dp, none, cs, sn)
         do c = 1, size(columns)
            f%applied(columns(c)) = f%n_ops
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
            w(i) = (b(i) - dot_product(f%r(1:i - 1, col), w(1:i - 1))) / f%r(i, col)
         end if
      end do
   end function forward_solve

   !> sum_i coefficient_i g_{a_i}, from the unreduced gradients (those of factor_reset).
   pure function active_combination(f, gradients, coefficient) result(v)
      type(factorisation), intent(in) :: f
      real(dp), intent(in) :: gradients(:, :), coefficient(:)
      real(dp) :: v(f%n)
      integer :: i, row

      v = 0.0_dp
      do i = 1, f%count
         row = f%single_row(f%list(i))
         if (row > 0) then
            v(row) = v(row) + coefficient(i) * gradients(row, f%list(i))
         else
            v = v + coefficient(i) * gradients(:, f%list(i))
         end if
      end do
   end function active_combination

end module optgra_active_set
