# The API image for docker-compose.yml. Build stage compiles native modules (better-sqlite3).
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
# The schematics workspace (libs/schematics) is built by `prepare` during the install.
COPY libs/schematics ./libs/schematics
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
EXPOSE 8080
CMD ["node", "dist/apps/sandbox-api/main.js"]
