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
!> Q itself is never stored: physical vectors are rebuilt from the unreduced gradients.
module optgra_active_set
   use optgra_kinds
   implicit none
   private

   public :: factorisation, factor_allocate, factor_reset, factor_include, factor_exclude
   public :: null_norm, null_dot, multipliers, forward_solve, backward_solve, active_combination

   !> Relative size below which a gradient is taken as dependent on the active ones.
   real(dp), parameter :: DEPENDENCE_TOLERANCE = 1.0e-10_dp

   type :: factorisation
      integer :: n = 0
      integer :: m = 0
      real(dp), allocatable :: r(:, :)      ! (n, m+3) reduced vectors
      real(dp), allocatable :: norm(:)      ! (m+3) norms of the unreduced vectors
      integer, allocatable :: status(:)     ! (m+3) position (> 0), STATUS_CANDIDATE/PASSIVE/IGNORED
      integer, allocatable :: list(:)       ! (n) active outputs in order
      integer, allocatable :: single_row(:) ! (m+3) row of the one non-zero of an unreduced
                                            ! vector (a bound row's gradient), else 0
      integer :: count = 0
   end type factorisation

contains

   subroutine factor_allocate(f, n, m, info)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: n, m
      integer, intent(out) :: info
      integer :: ierr

      f%n = n
      f%m = m
      allocate (f%r(n, m + 3), f%norm(m + 3), f%status(m + 3), f%list(n), f%single_row(m + 3), stat=ierr)
      info = merge(STATUS_OK, STATUS_OUT_OF_MEMORY, ierr == 0)
      if (ierr /= 0) return
      f%r = 0.0_dp
      f%norm = 0.0_dp
      f%status = STATUS_CANDIDATE
      f%list = 0
      f%single_row = 0
      f%count = 0
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
   end subroutine factor_reset

   !> Norm of the null-space part of column j.
   pure real(dp) function null_norm(f, j)
      type(factorisation), intent(in) :: f
      integer, intent(in) :: j
      null_norm = norm2(f%r(f%count + 1:f%n, j))
   end function null_norm

   !> Scalar product of the null-space parts of columns i and j (= g_i . p_j for projected p_j).
   pure real(dp) function null_dot(f, i, j)
      type(factorisation), intent(in) :: f
      integer, intent(in) :: i, j
      null_dot = dot_product(f%r(f%count + 1:f%n, i), f%r(f%count + 1:f%n, j))
   end function null_dot

   !> Add output j to the active set (k -> k+1) by a Householder reflection of rows k+1..last
   !> that maps r(k+1:last, j) onto alpha e_1.  Rejected when j depends on the active outputs.
   !> The reflector I - 2 v v^T / v^T v only mixes the rows where v is non-zero.
   subroutine factor_include(f, j, accepted)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: j
      logical, intent(out) :: accepted
      real(dp), allocatable :: v(:), swap(:), coefficient(:), scale(:)
      integer, allocatable :: rows(:)
      real(dp) :: reduced_norm, alpha, vv, s
      integer :: k, pivot, last, col, i

      accepted = .false.
      k = f%count
      if (k >= f%n) return
      reduced_norm = norm2(f%r(k + 1:f%n, j))
      if (reduced_norm == 0.0_dp .or. reduced_norm <= DEPENDENCE_TOLERANCE * f%norm(j)) return

      ! Bring the largest entry to row k+1 so that a sparse column gives a short reflection.
      pivot = k + maxloc(abs(f%r(k + 1:f%n, j)), 1)
      if (pivot /= k + 1) then
         swap = f%r(k + 1, :)
         f%r(k + 1, :) = f%r(pivot, :)
         f%r(pivot, :) = swap
      end if
      last = k + findloc(f%r(k + 1:f%n, j) /= 0.0_dp, .true., dim=1, back=.true.)

      ! A single non-zero needs no reflection: the column already has the triangular shape.
      alpha = f%r(k + 1, j)
      if (last > k + 1) then
         alpha = -sign(reduced_norm, f%r(k + 1, j))
         v = f%r(k + 1:last, j)
         v(1) = v(1) - alpha
         vv = dot_product(v, v)
         rows = pack([(i, i = k + 1, last)], v /= 0.0_dp)
         if (2 * size(rows) <= last - k) then
            ! A sparse reflector (gradients of sparse constraints, bound rows): touch only its
            ! rows, s = 2 v.r(rows, :) / vv for all columns at once.  Active columns are zero
            ! there, so s vanishes for them.
            coefficient = pack(v, v /= 0.0_dp)
            allocate (scale(f%m + 3))
            scale = 0.0_dp
            do i = 1, size(rows)
               scale = scale + coefficient(i) * f%r(rows(i), :)
            end do
            scale = 2.0_dp * scale / vv
            do col = 1, f%m + 3
               if (col == j .or. scale(col) == 0.0_dp) cycle
               f%r(rows, col) = f%r(rows, col) - scale(col) * coefficient
            end do
         else
            do col = 1, f%m + 3
               if (col == j .or. f%status(col) > 0) cycle
               s = 2.0_dp * dot_product(v, f%r(k + 1:last, col)) / vv
               if (s /= 0.0_dp) f%r(k + 1:last, col) = f%r(k + 1:last, col) - s * v
            end do
         end if
      end if
      f%r(k + 1, j) = alpha
      f%r(k + 2:f%n, j) = 0.0_dp
      f%count = k + 1
      f%list(k + 1) = j
      f%status(j) = k + 1
      accepted = .true.
   end subroutine factor_include

   !> Remove the active output at list position p, then restore the triangular shape: column
   !> a_i (i = p..k-1) gained an entry in row i+1, removed by a rotation of rows (i, i+1).
   subroutine factor_exclude(f, p)
      type(factorisation), intent(inout) :: f
      integer, intent(in) :: p
      real(dp) :: a, b, rho, cs, sn, upper(f%m + 3)
      integer :: i, k, col

      k = f%count
      f%status(f%list(p)) = STATUS_CANDIDATE
      do i = p, k - 1
         f%list(i) = f%list(i + 1)
         f%status(f%list(i)) = i
      end do
      f%list(k) = 0
      f%count = k - 1
      do i = p, k - 1
         col = f%list(i)
         a = f%r(i, col)
         b = f%r(i + 1, col)
         rho = hypot(a, b)
         if (rho == 0.0_dp .or. b == 0.0_dp) cycle
         cs = a / rho
         sn = b / rho
         upper = f%r(i, :)
         f%r(i, :) = cs * upper + sn * f%r(i + 1, :)
         f%r(i + 1, :) = cs * f%r(i + 1, :) - sn * upper
         f%r(i, col) = rho
         f%r(i + 1, col) = 0.0_dp
      end do
   end subroutine factor_exclude

   !> mu = L^{-T} r(1:k, j): coefficients of column j on the active gradients.
   pure function multipliers(f, j) result(mu)
      type(factorisation), intent(in) :: f
      integer, intent(in) :: j
      real(dp) :: mu(f%count)
      mu = backward_solve(f, f%r(1:f%count, j))
   end function multipliers

   !> Solve L^T y = b.  Column i of L^T is r(1:i, a_i), so the substitution runs by columns.
   pure function backward_solve(f, b) result(y)
      type(factorisation), intent(in) :: f
      real(dp), intent(in) :: b(:)
      real(dp) :: y(f%count), rest(f%count)
      integer :: i, col

      rest = b(1:f%count)
      do i = f%count, 1, -1
         col = f%list(i)
         y(i) = rest(i) / f%r(i, col)
         if (y(i) /= 0.0_dp) rest(1:i - 1) = rest(1:i - 1) - y(i) * f%r(1:i - 1, col)
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
         w(i) = (b(i) - dot_product(f%r(1:i - 1, col), w(1:i - 1))) / f%r(i, col)
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
