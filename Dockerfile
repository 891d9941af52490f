# Build once, run as the API or the worker (docker-compose.yml and docker-compose.prod.yml pick the command).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The sandbox keeps its development WeChat Pay key here (a volume in docker-compose.yml); the node user writes it.
RUN mkdir .data && chown node:node .data
USER node
EXPOSE 3000
CMD ["node", "dist/src/main.js"]
